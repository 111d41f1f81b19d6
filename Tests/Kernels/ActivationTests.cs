using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>Activation in place (y = x); the out-of-place shapes are rows of the kernel table (KernelTableTests).</summary>
public sealed class ActivationTests : GpuTest
{
    [Test]
    public void InPlace()
    {
        var x = Check.Randn(new Random(9), 300, 3.0);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, 300);
        Run(seq => Activation.Record(seq, ActivationKind.Silu, X, X));
        Check.Close(X.ToArray(), Array.ConvertAll(x, v => KernelTable.ActivationReference(ActivationKind.Silu, v)), 1e-5, "silu in place");
    }
}
