using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Kernels;

public sealed class Conv3dTests : GpuTest
{
    /// <summary>CausalConv3d in double on channel-first [B, C, T, H, W]: kt−1 copies of frame 0, zero spatial padding.</summary>
    static double[] Reference(float[] x, float[] w, float[] bias, int b, int ci, int t, int h, int wd, int co, int kt, int k, float div)
    {
        var y = new double[b * co * t * h * wd];
        int pad = k / 2;
        for (int n = 0; n < b; n++) for (int o = 0; o < co; o++) for (int f = 0; f < t; f++) for (int i = 0; i < h; i++) for (int j = 0; j < wd; j++)
        {
            double acc = bias[o];
            for (int c = 0; c < ci; c++) for (int dt = 0; dt < kt; dt++) for (int di = 0; di < k; di++) for (int dj = 0; dj < k; dj++)
            {
                int ts = Math.Max(f + dt - (kt - 1), 0), ii = i + di - pad, jj = j + dj - pad;
                if (ii < 0 || ii >= h || jj < 0 || jj >= wd) continue;
                acc += (double)w[((((o * ci + c) * kt + dt) * k + di) * k) + dj] * ((double)x[(((n * ci + c) * t + ts) * h + ii) * wd + jj] / div);
            }
            y[(((n * co + o) * t + f) * h + i) * wd + j] = acc;
        }
        return y;
    }

    /// <summary>[B, C, T, H, W] ↔ [B, T, H, W, C].</summary>
    static float[] ToLast(float[] v, int b, int c, int rest)
    {
        var r = new float[v.Length];
        for (int n = 0; n < b; n++) for (int k = 0; k < c; k++) for (int p = 0; p < rest; p++) r[(n * rest + p) * c + k] = v[(n * c + k) * rest + p];
        return r;
    }

    static double[] ToLast(double[] v, int b, int c, int rest)
    {
        var r = new double[v.Length];
        for (int n = 0; n < b; n++) for (int k = 0; k < c; k++) for (int p = 0; p < rest; p++) r[(n * rest + p) * c + k] = v[(n * c + k) * rest + p];
        return r;
    }

    [TestCase(1, 8, 1, 5, 7, 12, 3, 3, false, false, false, 1f)]
    [TestCase(2, 4, 4, 3, 6, 3, 3, 3, false, true, false, 1f)]     // Cout 3 (padded to 4), channel-first output
    [TestCase(1, 4, 3, 4, 5, 4, 1, 1, true, false, false, 0.18215f)] // post_quant_conv: channel-first input, division
    [TestCase(1, 12, 5, 3, 3, 8, 1, 3, false, false, true, 1f)]    // 1x3x3 with a residual
    [TestCase(1, 8, 4, 2, 3, 8, 3, 3, false, false, true, 1f)]     // video frames see (0, 0, 0), (0, 0, 1), ...
    public void MatchesCpu(int b, int ci, int t, int h, int wd, int co, int kt, int k, bool xFirst, bool yFirst, bool residual, float div)
    {
        var rng = new Random(b * 1000 + ci * 100 + t * 10 + co);
        int rest = t * h * wd;
        var x = Check.Randn(rng, b * ci * rest);
        var w = Check.Randn(rng, co * ci * kt * k * k, 1 / Math.Sqrt(ci * kt * k * k));
        var bias = Check.Randn(rng, co, 0.5);
        var res = Check.Randn(rng, b * co * rest);
        var want = Reference(x, w, bias, b, ci, t, h, wd, co, kt, k, div);
        var resOut = yFirst ? res : ToLast(res, b, co, rest);
        if (!yFirst) want = ToLast(want, b, co, rest);
        if (residual) for (int i = 0; i < want.Length; i++) want[i] += resOut[i];

        using var s = new Scratch(Gpu);
        var X = xFirst ? s.F32(x, b, ci, t, h, wd) : s.F32(ToLast(x, b, ci, rest), b, t, h, wd, ci);
        var W = s.Upload(Conv3d.PackWeight(HostTensor.FromFloat32(w, co, ci, kt, k, k)));
        var B = s.Upload(Conv3d.PackBias(HostTensor.FromFloat32(bias, co)));
        long[] yShape = yFirst ? [b, co, t, h, wd] : [b, t, h, wd, co];
        var Y = s.Empty(DType.F32, yShape);
        var R = residual ? s.F32(resOut, yShape) : null;
        Run(seq => Conv3d.Record(seq, X, xFirst, W, B, co, Y, yFirst, R, div));
        Check.Close(Y.ToArray(), want, 1e-5, "conv3d");
    }

    [Test]
    public void WrongShapesAreNamed()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 1, 1, 2, 2, 8);
        var W = s.Upload(Conv3d.PackWeight(HostTensor.FromFloat32(new float[4 * 4 * 27], 4, 4, 3, 3, 3)));
        var B = s.Empty(DType.F32, 4);
        var Y = s.Empty(DType.F32, 1, 1, 2, 2, 4);
        using var seq = new Sequence(Gpu);
        var e = Assert.Throws<ArgumentException>(() => Conv3d.Record(seq, X, false, W, B, 4, Y, false));
        Assert.That(e!.Message, Does.Contain("has 8 channels"));
    }
}
