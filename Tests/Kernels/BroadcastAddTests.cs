using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class BroadcastAddTests : GpuTest
{
    [TestCase(3, 7, 13)]
    [TestCase(2, 64, 37)]
    [TestCase(1, 5, 1)]
    [TestCase(40, 1, 2000)] // 80 000 elements: a two-dimensional grid of workgroups
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
    public void RejectsSizeNotMultiple()
    {
        using var s = new Scratch(Gpu);
        var A = s.Empty(DType.F32, 2, 10);
        var B = s.Empty(DType.F32, 3);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => BroadcastAdd.Record(seq, A, B, A)));
        Assert.That(ex!.Message, Does.Contain("multiple"));
    }
}
