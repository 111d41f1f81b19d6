using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// add (Engine/Kernels/Add.cs): y = a + alpha·b.
public static partial class KernelTable
{
    public static KernelCase Add(int n, float alpha) => new($"add n={n} alpha={alpha}", n, 1e-6, (s, rng) =>
    {
        var a = KernelInputs.Randn(rng, n);
        var b = KernelInputs.Randn(rng, n);
        Tensor A = s.F32(a, n), B = s.F32(b, n), Y = s.Empty(DType.F32, n);
        return new(seq => Vulkan.Kernels.Add.Record(seq, A, B, Y, alpha), Y,
            () => Enumerable.Range(0, n).Select(i => a[i] + (double)alpha * b[i]).ToArray());
    });
}
