using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// softmax (Engine/Kernels/Softmax.cs): in place over each row of scale·x.
public static partial class KernelTable
{
    /// <summary>maxBindingBytes = 0: the device's binding limit; a small one forces the chunked path.</summary>
    public static KernelCase Softmax(int rows, int n, int maxBindingBytes = 0) =>
        new($"softmax {rows}x{n}{SmallBindings.Describe(maxBindingBytes)}", rows * n, 1e-5, (s, rng) =>
    {
        var x = KernelInputs.Randn(rng, (long)rows * n, 8.0);
        const float scale = 0.3f;
        var X = s.F32(x, rows, n);
        return new(seq => Vulkan.Kernels.Softmax.Record(seq, X, scale, SmallBindings.OrDevice(seq.Gpu, maxBindingBytes)), X, () =>
        {
            var want = new double[x.Length];
            for (long r = 0; r < rows; r++)
            {
                double m = double.NegativeInfinity, sum = 0;
                for (int i = 0; i < n; i++) m = Math.Max(m, (double)x[r * n + i] * scale);
                for (int i = 0; i < n; i++) sum += Math.Exp((double)x[r * n + i] * scale - m);
                for (int i = 0; i < n; i++) want[r * n + i] = Math.Exp((double)x[r * n + i] * scale - m) / sum;
            }
            return want;
        });
    });
}
