using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>Shape errors; the shapes it computes are rows of the kernel table (KernelTableTests).</summary>
public sealed class LatentRgbTests : GpuTest
{
    [Test]
    public void NamesTheWrongShape()
    {
        var L = Tensor.Create(Gpu, DType.F32, 4, 2, 3);
        var M = Tensor.Create(Gpu, DType.F32, 3, 4);
        var Y = Tensor.Create(Gpu, DType.F32, 3, 2, 3);
        var e = Assert.Throws<ArgumentException>(() => Run(seq => LatentRgb.Record(seq, L, M, Y)))!;
        Assert.That(e.Message, Does.Contain("projection").And.Contain("[3,5]"));
        foreach (var t in new[] { L, M, Y }) t.Buffer.Dispose();
    }
}
