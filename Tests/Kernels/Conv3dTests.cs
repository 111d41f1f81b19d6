using NUnit.Framework;
using T2X.Benchmarks;
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

    /// <summary>
    /// The implicit-GEMM form (channel-last, Cin % 8 = 0) in both GEMM variants against the double reference on fresh
    /// random data: odd sizes (positions and Cout not multiples of the 16x32 texel tile or the 64x64 shared tile),
    /// 3x3x3 over videos (frames 0 and 1 read the replicated frame 0), 1x3x3, 1x1x1, batches, a residual.
    /// </summary>
    [TestCase(1, 8, 1, 5, 7, 12, 3, 3, false)]
    [TestCase(2, 16, 4, 3, 6, 40, 3, 3, true)]
    [TestCase(1, 24, 3, 4, 5, 8, 3, 3, false)]
    [TestCase(1, 8, 2, 6, 3, 33, 1, 3, true)]
    [TestCase(2, 16, 1, 4, 9, 7, 1, 1, false)]
    [TestCase(1, 8, 5, 1, 1, 4, 3, 3, false)]   // 1x1 frames: every spatial tap but the centre is padding
    public void GemmMatchesCpu(int b, int ci, int t, int h, int wd, int co, int kt, int k, bool residual)
    {
        foreach (var variant in new[] { Gemm.Variant.Texel, Gemm.Variant.Tiled })
        {
            CheckGemm(new Random(b * 1000 + ci * 100 + t * 10 + co + (int)variant), b, ci, t, h, wd, co, kt, k, residual, fold: false, $"conv3d gemm {variant}", new(variant));
        }
    }

    /// <summary>The convolution weights in the CPU GEMM's panels (as the VAE's f32 weights are uploaded to CPU devices):
    /// [Cout, kt, kh, kw, Cin] packed as [Cout, K], over videos and with a residual.</summary>
    [TestCase(1, 8, 3, 4, 5, 32, 3, 3, true)]
    [TestCase(2, 16, 2, 3, 3, 64, 1, 3, false)]
    [TestCase(1, 24, 1, 5, 6, 32, 1, 1, false)]
    public void GemmWithPanelWeightsMatchesCpu(int b, int ci, int t, int h, int wd, int co, int kt, int k, bool residual)
        => CheckGemm(new Random(b * 77 + ci + t + co), b, ci, t, h, wd, co, kt, k, residual, fold: false, "conv3d gemm, panel weights",
            new(Gemm.Variant.Texel), panels: true);

    /// <summary>Time-tap folding: an image (T = 1) through the summed kernel matches the reference of the full 3x3x3
    /// conv over the replicated frame, to the same f32 tolerance.</summary>
    [TestCase(1, 16, 5, 7, 24)]
    [TestCase(2, 8, 3, 2, 5)]
    public void FoldedTimeTapsMatchAnImage(int b, int ci, int h, int wd, int co)
    {
        foreach (var variant in new[] { Gemm.Variant.Texel, Gemm.Variant.Tiled })
        {
            CheckGemm(new Random(ci * 31 + co + (int)variant), b, ci, 1, h, wd, co, 3, 3, residual: true, fold: true, $"folded conv3d {variant}", new(variant));
        }
    }

    /// <summary>A video as the decoder runs it: frame 0 (all taps read frame 0) with the folded kernel, frames 1.. with
    /// the full one, each call computing only its frames of every sample.</summary>
    [TestCase(1, 8, 4, 3, 5, 12)]
    [TestCase(2, 16, 3, 2, 3, 33)]
    public void VideoWithFoldedFirstFrame(int b, int ci, int t, int h, int wd, int co)
    {
        var rng = new Random(b + ci + t + co);
        int rest = t * h * wd;
        var x = Check.Randn(rng, b * ci * rest);
        var w = Check.Randn(rng, co * ci * 27, 1 / Math.Sqrt(ci * 27));
        var bias = Check.Randn(rng, co, 0.5);
        var want = ToLast(Reference(x, w, bias, b, ci, t, h, wd, co, 3, 3, 1f), b, co, rest);
        using var s = new Scratch(Gpu);
        var X = s.F32(ToLast(x, b, ci, rest), b, t, h, wd, ci);
        var checkpoint = HostTensor.FromFloat32(w, co, ci, 3, 3, 3);
        var W = s.Upload(Conv3d.PackGemmWeight(checkpoint));
        var Wf = s.Upload(Conv3d.PackGemmWeight(Conv3d.FoldTime(checkpoint)));
        var B = s.F32(bias, co);
        var Y = s.Empty(DType.F32, b, t, h, wd, co);
        Run(seq =>
        {
            Conv3d.RecordGemm(seq, X, Wf, B, Y, firstFrame: 0, frames: 1);
            Conv3d.RecordGemm(seq, X, W, B, Y, firstFrame: 1);
        });
        Check.Close(Y.ToArray(), want, 1e-5, "conv3d video, folded frame 0");
    }

    /// <summary>y larger than one binding: the GEMM splits y and residual by rows while x stays one view.</summary>
    [Test]
    public void GemmSplitsALargeOutput()
    {
        // x: 1x2x5x6x8 f32 = 1920 bytes; y: 240 positions x 40 = 38400 bytes
        CheckGemm(new Random(11), 1, 8, 2, 5, 6, 40, 3, 3, residual: true, fold: false, "conv3d gemm in row chunks", new(MaxBindingBytes: 4 << 10));
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 1, 2, 5, 6, 8);
        var W = s.Upload(Conv3d.PackGemmWeight(HostTensor.FromFloat32(new float[40 * 8 * 27], 40, 8, 3, 3, 3)));
        var B = s.Empty(DType.F32, 40);
        var Y = s.Empty(DType.F32, 1, 2, 5, 6, 40);
        using var seq = new Sequence(Gpu);
        var e = Assert.Throws<ArgumentException>(() => Conv3d.RecordGemm(seq, X, W, B, Y, null, 0, null, new(MaxBindingBytes: 1 << 10)));
        Assert.That(e!.Message, Does.Contain("x F32[1,2,5,6,8]").And.Contain("larger than this device lets one"));
    }

    void CheckGemm(Random rng, int b, int ci, int t, int h, int wd, int co, int kt, int k, bool residual, bool fold, string what, Gemm.Overrides overrides,
        bool panels = false)
    {
        int rest = t * h * wd;
        var x = Check.Randn(rng, b * ci * rest);
        var w = Check.Randn(rng, co * ci * kt * k * k, 1 / Math.Sqrt(ci * kt * k * k));
        var bias = Check.Randn(rng, co, 0.5);
        var res = Check.Randn(rng, b * co * rest);
        var want = ToLast(Reference(x, w, bias, b, ci, t, h, wd, co, kt, k, 1f), b, co, rest);
        if (residual) for (int i = 0; i < want.Length; i++) want[i] += res[i];

        using var s = new Scratch(Gpu);
        var X = s.F32(ToLast(x, b, ci, rest), b, t, h, wd, ci);
        var checkpoint = HostTensor.FromFloat32(w, co, ci, kt, k, k);
        var packed = Conv3d.PackGemmWeight(fold ? Conv3d.FoldTime(checkpoint) : checkpoint);
        var W = panels
            ? GemmPanels.Write(s.Empty(DType.F32, packed.Shape).Buffer, 0, packed)
            : s.Upload(packed);
        var B = s.F32(bias, co);
        var Y = s.Empty(DType.F32, b, t, h, wd, co);
        var R = residual ? s.F32(res, b, t, h, wd, co) : null;   // res read as channel-last directly
        Run(seq => Conv3d.RecordGemm(seq, X, W, B, Y, R, 0, null, overrides));
        Check.Close(Y.ToArray(), want, 1e-5, what);
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
