using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// upsample (Engine/Kernels/Upsample.cs): the VAE's 2x nearest, and 2x linear in space and time.
public static partial class KernelTable
{
    /// <summary>maxBindingBytes = 0: the device's binding limit; a small one forces the chunked path.</summary>
    public static KernelCase Upsample(UpsampleKind kind, int b, int t, int h, int w, int c, int maxBindingBytes = 0) =>
        new($"upsample {kind} {b}x{t}x{h}x{w}x{c}{SmallBindings.Describe(maxBindingBytes)}",
            t * 10 + h, 1e-6, (s, rng) =>
    {
        var x = KernelInputs.Randn(rng, (long)b * t * h * w * c);
        int to = kind == UpsampleKind.Nearest2x ? t : 2 * t - 1;
        Tensor Xt = s.F32(x, b, t, h, w, c), Y = s.Empty(DType.F32, b, to, 2 * h, 2 * w, c);
        return new(seq => Vulkan.Kernels.Upsample.Record(seq, kind, Xt, Y, SmallBindings.OrDevice(seq.Gpu, maxBindingBytes)), Y, () =>
        {
            double X(int n, int f, int i, int j, int k) => x[(((n * t + f) * h + i) * w + j) * c + k];
            var want = new double[b * to * 4 * h * w * c];
            int idx = 0;
            for (int n = 0; n < b; n++) for (int f = 0; f < to; f++) for (int i = 0; i < 2 * h; i++) for (int j = 0; j < 2 * w; j++) for (int k = 0; k < c; k++)
            {
                if (kind == UpsampleKind.Nearest2x) { want[idx++] = X(n, f, i / 2, j / 2, k); continue; }
                var (i0, i1, li) = UpsampleTaps(i, h);
                var (j0, j1, lj) = UpsampleTaps(j, w);
                double Space(int fr) => (X(n, fr, i0, j0, k) * (1 - lj) + X(n, fr, i0, j1, k) * lj) * (1 - li)
                                      + (X(n, fr, i1, j0, k) * (1 - lj) + X(n, fr, i1, j1, k) * lj) * li;
                if (f == 0) { want[idx++] = Space(0); continue; }
                var (t0, t1, lt) = UpsampleTaps(f - 1, t - 1);   // frames 1.. only: frame 0 takes no part in time
                want[idx++] = Space(1 + t0) * (1 - lt) + Space(1 + t1) * lt;
            }
            return want;
        });
    });

    /// <summary>PyTorch linear 2x, align_corners=False: source taps and the weight of the second.</summary>
    static (int, int, double) UpsampleTaps(int d, int n)
    {
        double s = Math.Max((d + 0.5) / 2 - 0.5, 0);
        int i0 = (int)Math.Floor(s);
        return (i0, Math.Min(i0 + 1, n - 1), s - i0);
    }
}
