using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Benchmarks;

// rms_norm (Engine/Kernels/RmsNorm.cs): T5's norm, y = w · x / sqrt(mean(x²) + eps), with a weight stored in f32,
// f16 or bf16.
public static partial class KernelTable
{
    public static KernelCase RmsNorm(int rows, int d, DType dtype, bool halfPrecisionModel = false) =>
        new($"rms_norm {rows}x{d} {dtype}{(halfPrecisionModel ? " half model" : "")}",
            halfPrecisionModel ? rows * d : rows + d, KernelCase.ToleranceFor(dtype), (s, rng) =>
    {
        var x = KernelInputs.Randn(rng, (long)rows * d, halfPrecisionModel ? 2.0 : 3.0);
        var w = HostTensor.FromFloat32(KernelInputs.Randn(rng, d), d).To(dtype);
        Tensor X = s.F32(x, rows, d), W = s.Upload(w), Y = s.Empty(DType.F32, rows, d);
        return new(seq => Vulkan.Kernels.RmsNorm.Record(seq, X, W, Y, 1e-6f, halfPrecisionModel), Y,
            () => RmsNormReference(x, w.ToFloat32(), rows, d, halfPrecisionModel ? dtype : DType.F32));
    });

    /// <summary>The norm in double; with <paramref name="model"/> f16 or bf16 it is transformers' for a model in that
    /// dtype: h = x·rsqrt(...) cast to the weight dtype, then w·h in that dtype.</summary>
    public static double[] RmsNormReference(float[] x, float[] w, int rows, int d, DType model)
    {
        var want = new double[x.Length];
        for (int m = 0; m < rows; m++)
        {
            double ms = 0;
            for (int i = 0; i < d; i++) ms += (double)x[m * d + i] * x[m * d + i];
            if (model == DType.F32)
            {
                double r = 1 / Math.Sqrt(ms / d + 1e-6);
                for (int i = 0; i < d; i++) want[m * d + i] = w[i] * (x[m * d + i] * r);
            }
            else
            {
                float r = (float)(1 / Math.Sqrt((float)(ms / d) + 1e-6));
                for (int i = 0; i < d; i++) want[m * d + i] = RoundTo(w[i] * RoundTo(x[m * d + i] * r, model), model);
            }
        }
        return want;
    }

    static float RoundTo(float v, DType dt) => dt switch
    {
        DType.F16 => (float)(Half)v,
        DType.BF16 => BFloat16.Round(v),
        _ => v,
    };
}
