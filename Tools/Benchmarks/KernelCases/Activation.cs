using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// activation (Engine/Kernels/Activation.cs): GELU (tanh) and SiLU elementwise.
public static partial class KernelTable
{
    public static KernelCase Activation(ActivationKind kind, int n) => new($"activation {kind} n={n}", n, KernelCase.ToleranceFor(DType.F32), (s, rng) =>
    {
        var x = KernelInputs.Randn(rng, n, 4.0);
        Tensor X = s.F32(x, n), Y = s.Empty(DType.F32, n);
        return new(seq => Vulkan.Kernels.Activation.Record(seq, kind, X, Y), Y, () => Array.ConvertAll(x, v => ActivationReference(kind, v)));
    });

    public static double ActivationReference(ActivationKind kind, double x) => kind switch
    {
        ActivationKind.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        _ => x / (1 + Math.Exp(-x)),
    };
}
