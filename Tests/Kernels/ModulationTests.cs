using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>Shape errors; the shapes it computes are rows of the kernel table (KernelTableTests).</summary>
public sealed class ModulationTests : GpuTest
{
    [Test]
    public void RejectsTooFewChunks()
    {
        using var s = new Scratch(Gpu);
        var T = s.Empty(DType.F32, 6, 8);
        var E = s.Empty(DType.F32, 2, 24);
        var O = s.Empty(DType.F32, 6, 2, 8);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => Modulation.Record(seq, T, E, O)));
        Assert.That(ex!.Message, Does.Contain("temb"));
    }
}
