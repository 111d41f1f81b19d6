using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// euler_cfg (Engine/Kernels/EulerCfg.cs): one rectified-flow step with classifier-free guidance, in place on z.
public static partial class KernelTable
{
    /// <summary>One step of dt on latents [b, c, f, h, w] from a model output [2b, cout, f, h, w] (conditional halves
    /// first); every sample of the batch has its own guidance scale (a batch of different requests).</summary>
    public static KernelCase EulerCfg(int b, int c, int cout, int f, int h, int w) =>
        new($"euler_cfg {b}x{c}x{f}x{h}x{w} cout={cout}", b * c * h * w, 1e-6, (s, rng) =>
    {
        int spatial = f * h * w;
        const float dt = 0.016949f;
        var z0 = KernelInputs.Randn(rng, (long)b * c * spatial);
        var o = KernelInputs.Randn(rng, 2L * b * cout * spatial);
        var guidance = EulerCfgGuidance(b);
        Tensor Z = s.F32(z0, b, c, f, h, w), O = s.F32(o, 2 * b, cout, f, h, w), Dt = s.F32([dt], 1), G = s.F32(guidance, b);
        return new(seq => Vulkan.Kernels.EulerCfg.Record(seq, Z, O, Dt, G), Z, () =>
        {
            var want = Array.ConvertAll(z0, v => (double)v);
            EulerCfgStep(want, o, b, c, cout, spatial, dt, guidance);
            return want;
        });
    });

    /// <summary>A different guidance scale for each of <paramref name="b"/> samples: 4, 2.5, 1, …</summary>
    public static float[] EulerCfgGuidance(int b) => Enumerable.Range(0, b).Select(i => 4f - 1.5f * i).ToArray();

    /// <summary>z += dt · (unc + g · (cond − unc)), in double.</summary>
    public static void EulerCfgStep(double[] z, float[] o, int b, int c, int cout, int spatial, double dt, float[] guidance)
    {
        for (int bi = 0; bi < b; bi++)
            for (int ci = 0; ci < c; ci++)
                for (int sp = 0; sp < spatial; sp++)
                {
                    double cond = o[((long)bi * cout + ci) * spatial + sp], unc = o[((long)(b + bi) * cout + ci) * spatial + sp];
                    z[((long)bi * c + ci) * spatial + sp] += dt * (unc + guidance[bi] * (cond - unc));
                }
    }
}
