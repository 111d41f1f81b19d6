using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>Shape errors; the packs are exact rows of the kernel table (KernelTableTests).</summary>
public sealed class PresentPackTests : GpuTest
{
    [Test]
    public void NamesTheWrongShape()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 3, 2, 5);
        var Y = s.Empty(DType.F32, 5, 2, 4);
        var e = Assert.Throws<ArgumentException>(() => Run(seq => PresentPack.Record(seq, X, Y)))!;
        Assert.That(e.Message, Does.Contain("rgba").And.Contain("[2,5,4]"));
    }
}
