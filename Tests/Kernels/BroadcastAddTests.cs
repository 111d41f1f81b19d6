using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class BroadcastAddTests : GpuTest
{
    [TestCase(3, 7, 12)]
    [TestCase(2, 64, 36)]
    [TestCase(1, 5, 4)]
    [TestCase(70_001, 1, 4)] // more repeats than one grid dimension holds
    [TestCase(2, 6, 10)]     // rows of 10: only the total size of b must be a multiple of 4
    public void MatchesCpu(int samples, int rows, int d)
    {
        var rng = new Random(samples * rows + d);
        int nb = rows * d;
        var a = Check.Randn(rng, samples * nb);
        var b = Check.Randn(rng, nb);
        using var s = new Scratch(Gpu);
        var A = s.F32(a, samples, rows, d);
        var B = s.F32(b, rows, d);
        var Y = s.Empty(DType.F32, samples, rows, d);
        Run(seq => BroadcastAdd.Record(seq, A, B, Y));
        var want = new double[a.Length];
        for (int i = 0; i < a.Length; i++) want[i] = (double)a[i] + b[i % nb];
        Check.Close(Y.ToArray(), want, 1e-7, "broadcast_add");
    }

    [Test]
    public void ChunkedSamples()
    {
        const int samples = 11, nb = 64;
        var rng = new Random(11);
        var a = Check.Randn(rng, samples * nb);
        var b = Check.Randn(rng, nb);
        using var s = new Scratch(Gpu);
        var A = s.F32(a, samples, nb);
        var B = s.F32(b, nb);
        var Y = s.Empty(DType.F32, samples, nb);
        using var seq = new Sequence(Gpu);
        BroadcastAdd.Record(seq, A, B, Y, SmallBindings.Of(5 * nb * 4)); // chunks of 5, 5 and 1 samples
        Assert.That(seq.Dispatches, Is.EqualTo(3));
        seq.Run();
        var want = new double[a.Length];
        for (int i = 0; i < a.Length; i++) want[i] = (double)a[i] + b[i % nb];
        Check.Close(Y.ToArray(), want, 1e-7, "broadcast_add chunked");
    }

    [Test]
    public void RejectsSizeNotMultiple()
    {
        using var s = new Scratch(Gpu);
        var A = s.Empty(DType.F32, 2, 10);
        var B = s.Empty(DType.F32, 3);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => BroadcastAdd.Record(seq, A, B, A)));
        Assert.That(ex!.Message, Does.Contain("multiple"));
        var B4 = s.Empty(DType.F32, 8);
        ex = Assert.Throws<ArgumentException>(() => Run(seq => BroadcastAdd.Record(seq, A, B4, A)));
        Assert.That(ex!.Message, Does.Contain("multiple of the size of b"));
    }
}
