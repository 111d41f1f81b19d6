using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// group_norm (Engine/Kernels/GroupNorm.cs): the VAE's norm over [batch, positions, channels], SiLU optionally fused.
public static partial class KernelTable
{
    /// <summary>maxBindingBytes = 0: the device's binding limit; a small one forces the chunked path.</summary>
    public static KernelCase GroupNorm(int b, int p, int c, int groups, bool silu, int maxBindingBytes = 0) =>
        new($"group_norm {b}x{p}x{c} groups={groups}{(silu ? " silu" : "")}{SmallBindings.Describe(maxBindingBytes)}",
            b * 100 + p + c, 1e-5, (s, rng) =>
    {
        var x = KernelInputs.Randn(rng, (long)b * p * c, 3.0);
        for (int i = 0; i < x.Length; i++) x[i] += 2;   // a mean far from 0 tests the two-pass variance
        var gamma = KernelInputs.Randn(rng, c, 0.5);
        var beta = KernelInputs.Randn(rng, c, 0.5);
        Tensor X = s.F32(x, b, p, c), Y = s.Empty(DType.F32, b, p, c), G = s.F32(gamma, c), Bt = s.F32(beta, c);
        return new(seq => Vulkan.Kernels.GroupNorm.Record(seq, X, G, Bt, Y, groups, 1e-6f, silu, SmallBindings.OrDevice(seq.Gpu, maxBindingBytes)), Y, () =>
        {
            var want = new double[x.Length];
            int per = c / groups;
            for (int n = 0; n < b; n++) for (int g = 0; g < groups; g++)
            {
                double sum = 0, sq = 0; int count = p * per;
                for (int q = 0; q < p; q++) for (int k = 0; k < per; k++) sum += x[(n * p + q) * c + g * per + k];
                double mean = sum / count;
                for (int q = 0; q < p; q++) for (int k = 0; k < per; k++) { double d = x[(n * p + q) * c + g * per + k] - mean; sq += d * d; }
                double rstd = 1 / Math.Sqrt(sq / count + 1e-6);
                for (int q = 0; q < p; q++) for (int k = 0; k < per; k++)
                {
                    int i = (n * p + q) * c + g * per + k, ch = g * per + k;
                    double v = (x[i] - mean) * rstd * gamma[ch] + beta[ch];
                    want[i] = silu ? v / (1 + Math.Exp(-v)) : v;
                }
            }
            return want;
        });
    });
}
