using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>The chunked path and shape errors; the other shapes are rows of the kernel table (KernelTableTests).</summary>
public sealed class BroadcastAddTests : GpuTest
{
    [Test]
    public void ChunkedSamples()
    {
        const int samples = 11, nb = 64;
        using var s = new Scratch(Gpu);
        var run = (KernelTable.BroadcastAdd(samples, 1, nb, maxBindingBytes: 5 * nb * 4) with { Seed = 11 }).Make(s); // chunks of 5, 5 and 1 samples
        using var seq = new Sequence(Gpu);
        run.Record(seq);
        Assert.That(seq.Dispatches, Is.EqualTo(3));
        seq.Run();
        Check.Close(run.Output.ToArray(), run.Want(), 1e-7, "broadcast_add chunked");
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
