using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>The chunked path and shape errors; the other shapes are rows of the kernel table (KernelTableTests).</summary>
public sealed class RowScaleTests : GpuTest
{
    [Test]
    public void ChunkedRows()
    {
        const int d = 20;
        using var s = new Scratch(Gpu);
        // 48-row chunks cutting through the 7-row groups
        var run = (KernelTable.RowScale(300, d, 7, 3, maxBindingBytes: 50 * d * 4) with { Seed = 301 }).Make(s);
        using var seq = new Sequence(Gpu);
        run.Record(seq);
        Assert.That(seq.Dispatches, Is.EqualTo(7));
        seq.Run();
        Check.Close(run.Output.ToArray(), run.Want(), 1e-7, "row_scale chunked");
    }

    [Test]
    public void RejectsGateWidth()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 4, 8);
        var G = s.Empty(DType.F32, 2, 12);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => RowScale.Record(seq, X, G, X, 2)));
        Assert.That(ex!.Message, Does.Contain("gate"));
    }
}
