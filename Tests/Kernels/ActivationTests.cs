using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class ActivationTests : GpuTest
{
    static double Reference(ActivationKind kind, double x) => kind switch
    {
        ActivationKind.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        _ => x / (1 + Math.Exp(-x)),
    };

    [TestCase(ActivationKind.GeluTanh, 1)]
    [TestCase(ActivationKind.GeluTanh, 1153)]
    [TestCase(ActivationKind.Silu, 2 * 1152)]
    [TestCase(ActivationKind.Silu, 70_001)]
    public void MatchesCpu(ActivationKind kind, int n)
    {
        var rng = new Random(n);
        var x = Check.Randn(rng, n, 4.0);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, n);
        var Y = s.Empty(DType.F32, n);
        Run(seq => Activation.Record(seq, kind, X, Y));
        Check.Close(Y.ToArray(), Array.ConvertAll(x, v => Reference(kind, v)), 1e-5, kind.ToString());
    }

    [Test]
    public void InPlace()
    {
        var x = Check.Randn(new Random(9), 300, 3.0);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, 300);
        Run(seq => Activation.Record(seq, ActivationKind.Silu, X, X));
        Check.Close(X.ToArray(), Array.ConvertAll(x, v => Reference(ActivationKind.Silu, v)), 1e-5, "silu in place");
    }
}
