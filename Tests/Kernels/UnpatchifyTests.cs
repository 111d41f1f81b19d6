using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>Shape errors; the shapes it copies are rows of the kernel table (KernelTableTests).</summary>
public sealed class UnpatchifyTests : GpuTest
{
    [Test]
    public void RejectsWrongTokenShape()
    {
        using var s = new Scratch(Gpu);
        var O = s.Empty(DType.F32, 1, 64, 31);
        var Y = s.Empty(DType.F32, 1, 8, 1, 16, 16);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => Unpatchify.Record(seq, O, Y, 2, new WindowSize(1, 8, 8))));
        Assert.That(ex!.Message, Does.Contain("tokens must have shape [1,64,32]"));
    }
}
