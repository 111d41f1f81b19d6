using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>Shape errors; the shapes it computes are rows of the kernel table (KernelTableTests).</summary>
public sealed class GroupNormTests : GpuTest
{
    [Test]
    public void ChannelsMustSplitIntoGroups()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 1, 4, 10);
        var G = s.Empty(DType.F32, 10);
        using var seq = new Sequence(Gpu);
        var e = Assert.Throws<ArgumentException>(() => GroupNorm.Record(seq, X, G, G, X, 4, 1e-6f, false));
        Assert.That(e!.Message, Does.Contain("do not split into 4 groups"));
    }
}
