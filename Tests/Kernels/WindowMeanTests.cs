using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>The chunked path and shape errors; the other shapes are rows of the kernel table (KernelTableTests).</summary>
public sealed class WindowMeanTests : GpuTest
{
    [Test]
    public void ChunkedWindows()
    {
        using var s = new Scratch(Gpu);
        // 128-byte windows, binding limit of 3 windows: 2-window chunks keep 256-byte alignment.
        var run = (KernelTable.WindowMean(10, new WindowSize(1, 2, 2), new WindowSize(1, 1, 2), 8, maxBindingBytes: 3 * 128) with { Seed = 10 }).Make(s);
        using var seq = new Sequence(Gpu);
        run.Record(seq);
        Assert.That(seq.Dispatches, Is.EqualTo(5));
        seq.Run();
        Check.Close(run.Output.ToArray(), run.Want(), 1e-6, "window_mean chunked");
    }

    [Test]
    public void RejectsMismatchedWindow()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 2, 63, 4);
        var Y = s.Empty(DType.F32, 2, 4);
        var w = new WindowSize(1, 8, 8);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => WindowMean.Record(seq, X, Y, w, w)));
        Assert.That(ex!.Message, Does.Contain("x must be [windows, 64, D]"));
        var X6 = s.Empty(DType.F32, 2, 64, 6);
        var Y6 = s.Empty(DType.F32, 2, 6);
        ex = Assert.Throws<ArgumentException>(() => Run(seq => WindowMean.Record(seq, X6, Y6, w, w)));
        Assert.That(ex!.Message, Does.Contain("multiple of 4"));
        Assert.Throws<ArgumentException>(() => WindowMean.ProxiesPerWindow(w, new WindowSize(1, 3, 8)));
    }
}
