using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// layer_norm (Engine/Kernels/LayerNorm.cs): plain, and modulated per sample as the PT-DiT block does
// (h·(1 + scale) + shift).
public static partial class KernelTable
{
    public static KernelCase LayerNorm(int rows, int d) => new($"layer_norm {rows}x{d}", rows * 31 + d, 1e-5, (s, rng) =>
    {
        var x = KernelInputs.Randn(rng, (long)rows * d);
        for (int i = 0; i < x.Length; i++) x[i] += 50f; // a large mean: a one-pass E[x²]−E[x]² would lose digits
        Tensor X = s.F32(x, rows, d), Y = s.Empty(DType.F32, rows, d);
        return new(seq => Vulkan.Kernels.LayerNorm.Record(seq, X, Y, 1e-6f), Y, () => LayerNormReference(KernelInputs.Widen(x), rows, d, 1e-6, null, null, 1, 1));
    });

    public static KernelCase ModulatedLayerNorm(int batch, int windows, int tokens, int d, int rowDiv) =>
        new($"layer_norm modulated {batch}x{windows}x{tokens}x{d} rowDiv={rowDiv}", batch * 1000 + d, 1e-5, (s, rng) =>
    {
        int rows = batch * windows * tokens;
        var x = KernelInputs.Randn(rng, (long)rows * d, 2.0);
        var shift = KernelInputs.Randn(rng, batch * d);
        var scale = KernelInputs.Randn(rng, batch * d, 0.5);
        Tensor X = s.F32(x, batch * windows, tokens, d), Y = s.Empty(DType.F32, batch * windows, tokens, d);
        Tensor Sh = s.F32(shift, batch, d), Sc = s.F32(scale, batch, d);
        return new(seq => Vulkan.Kernels.LayerNorm.Record(seq, X, Y, 1e-6f, Sh, Sc, rowDiv), Y,
            () => LayerNormReference(KernelInputs.Widen(x), rows, d, 1e-6, shift, scale, rowDiv, batch));
    });

    /// <summary>Row m normalised over its d values; with a shift and scale, group (m / rowDiv) mod groups modulates it.</summary>
    public static double[] LayerNormReference(double[] x, long rows, int d, double eps, float[]? shift, float[]? scale, long rowDiv, int groups)
    {
        var y = new double[x.Length];
        for (long m = 0; m < rows; m++)
        {
            double mean = 0, v = 0;
            for (int i = 0; i < d; i++) mean += x[m * d + i];
            mean /= d;
            for (int i = 0; i < d; i++) v += (x[m * d + i] - mean) * (x[m * d + i] - mean);
            double rstd = 1 / Math.Sqrt(v / d + eps);
            long g = (m / rowDiv) % groups;
            for (int i = 0; i < d; i++)
            {
                double h = (x[m * d + i] - mean) * rstd;
                if (shift != null) h = h * (1 + (double)scale![g * d + i]) + shift[g * d + i];
                y[m * d + i] = h;
            }
        }
        return y;
    }
}
