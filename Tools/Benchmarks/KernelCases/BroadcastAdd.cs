using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// broadcast_add (Engine/Kernels/BroadcastAdd.cs): y = a + b, b repeated over a's samples.
public static partial class KernelTable
{
    /// <summary>maxBindingBytes = 0: the device's binding limit; a small one forces the chunked path.</summary>
    public static KernelCase BroadcastAdd(int samples, int rows, int d, int maxBindingBytes = 0) =>
        new($"broadcast_add {samples}x{rows}x{d}{SmallBindings.Describe(maxBindingBytes)}",
            samples * rows + d, 1e-7, (s, rng) =>
    {
        long nb = (long)rows * d;
        var a = KernelInputs.Randn(rng, samples * nb);
        var b = KernelInputs.Randn(rng, nb);
        Tensor A = s.F32(a, samples, rows, d), B = s.F32(b, rows, d), Y = s.Empty(DType.F32, samples, rows, d);
        return new(seq => Vulkan.Kernels.BroadcastAdd.Record(seq, A, B, Y, SmallBindings.OrDevice(seq.Gpu, maxBindingBytes)), Y, () =>
        {
            var want = new double[a.Length];
            for (long i = 0; i < a.Length; i++) want[i] = (double)a[i] + b[i % nb];
            return want;
        });
    });
}
