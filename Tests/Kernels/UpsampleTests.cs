using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class UpsampleTests : GpuTest
{
    /// <summary>PyTorch linear 2x, align_corners=False: source taps and the weight of the second.</summary>
    static (int, int, double) Taps(int d, int n)
    {
        double s = Math.Max((d + 0.5) / 2 - 0.5, 0);
        int i0 = (int)Math.Floor(s);
        return (i0, Math.Min(i0 + 1, n - 1), s - i0);
    }

    [TestCase(UpsampleKind.Nearest2x, 2, 3, 3, 5, 4, 0)]
    [TestCase(UpsampleKind.Spatial2xTime2x, 1, 1, 3, 5, 4, 0)]
    [TestCase(UpsampleKind.Spatial2xTime2x, 2, 2, 2, 3, 8, 0)]
    [TestCase(UpsampleKind.Spatial2xTime2x, 1, 4, 1, 2, 4, 0)]
    [TestCase(UpsampleKind.Nearest2x, 2, 3, 3, 5, 12, 1024)]       // y in chunks of 16 positions
    [TestCase(UpsampleKind.Spatial2xTime2x, 2, 3, 3, 2, 8, 512)]
    public void MatchesCpu(UpsampleKind kind, int b, int t, int h, int w, int c, int maxBindingBytes)
    {
        var x = Check.Randn(new Random(t * 10 + h), b * t * h * w * c);
        double X(int n, int f, int i, int j, int k) => x[(((n * t + f) * h + i) * w + j) * c + k];
        int to = kind == UpsampleKind.Nearest2x ? t : 2 * t - 1;
        var want = new double[b * to * 4 * h * w * c];
        int idx = 0;
        for (int n = 0; n < b; n++) for (int f = 0; f < to; f++) for (int i = 0; i < 2 * h; i++) for (int j = 0; j < 2 * w; j++) for (int k = 0; k < c; k++)
        {
            if (kind == UpsampleKind.Nearest2x) { want[idx++] = X(n, f, i / 2, j / 2, k); continue; }
            var (i0, i1, li) = Taps(i, h);
            var (j0, j1, lj) = Taps(j, w);
            double Space(int fr) => (X(n, fr, i0, j0, k) * (1 - lj) + X(n, fr, i0, j1, k) * lj) * (1 - li)
                                  + (X(n, fr, i1, j0, k) * (1 - lj) + X(n, fr, i1, j1, k) * lj) * li;
            if (f == 0) { want[idx++] = Space(0); continue; }
            var (t0, t1, lt) = Taps(f - 1, t - 1);   // frames 1.. only: frame 0 takes no part in time
            want[idx++] = Space(1 + t0) * (1 - lt) + Space(1 + t1) * lt;
        }
        using var s = new Scratch(Gpu);
        var Xt = s.F32(x, b, t, h, w, c);
        var Y = s.Empty(DType.F32, b, to, 2 * h, 2 * w, c);
        Run(seq =>
        {
            if (maxBindingBytes == 0) Upsample.Record(seq, kind, Xt, Y);
            else Upsample.Record(seq, kind, Xt, Y, SmallBindings.Of(maxBindingBytes));
        });
        Check.Close(Y.ToArray(), want, 1e-6, kind.ToString());
    }
}
