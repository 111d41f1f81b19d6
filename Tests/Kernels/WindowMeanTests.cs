using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class WindowMeanTests : GpuTest
{
    // Reference by membership: proxy (j, k) of a window owns the tokens whose in-window row ≡ j (mod sh)
    // and column ≡ k (mod sw), for every frame (docs/ptdit.md, quirk Q6; one proxy per window when sh = sw = 1).
    static double[] Reference(float[] x, int windows, WindowSize win, int sh, int sw, int d)
    {
        int kp = sh * sw;
        var sum = new double[windows * kp * d];
        var count = new int[windows * kp];
        for (int wi = 0; wi < windows; wi++)
            for (int f = 0; f < win.Frames; f++)
                for (int y = 0; y < win.Rows; y++)
                    for (int z = 0; z < win.Cols; z++)
                    {
                        int n = (f * win.Rows + y) * win.Cols + z;
                        int proxy = wi * kp + (y % sh) * sw + z % sw;
                        count[proxy]++;
                        for (int c = 0; c < d; c++) sum[proxy * d + c] += x[((long)wi * win.Tokens + n) * d + c];
                    }
        for (int i = 0; i < sum.Length; i++) sum[i] /= count[i / d];
        return sum;
    }

    [TestCase(6, 1, 8, 8, 8, 8, 36)]    // released: one proxy per 8×8 window
    [TestCase(4, 1, 8, 8, 4, 2, 20)]    // finer proxies: 2 × 4 per window
    [TestCase(3, 2, 4, 6, 2, 3, 4)]     // two-frame windows, 2 × 2 proxies
    [TestCase(130, 1, 2, 2, 2, 2, 300)]
    public void MatchesCpu(int windows, int cf, int ch, int cw, int pch, int pcw, int d)
    {
        var win = new WindowSize(cf, ch, cw);
        var proxy = new WindowSize(cf, pch, pcw);
        int sh = ch / pch, sw = cw / pcw, kp = sh * sw;
        var rng = new Random(windows * 7 + d);
        var x = Check.Randn(rng, (long)windows * win.Tokens * d);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, windows, win.Tokens, d);
        var Y = s.Empty(DType.F32, windows * kp, d);
        Run(seq => WindowMean.Record(seq, X, Y, win, proxy));
        Check.Close(Y.ToArray(), Reference(x, windows, win, sh, sw, d), 1e-6, "window_mean");
    }

    [Test]
    public void ChunkedWindows()
    {
        const int windows = 10, d = 8;
        var win = new WindowSize(1, 2, 2);
        var rng = new Random(10);
        var x = Check.Randn(rng, windows * win.Tokens * d);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, windows, win.Tokens, d);
        var Y = s.Empty(DType.F32, windows * 2, d);
        using var seq = new Sequence(Gpu);
        // 128-byte windows, binding limit of 3 windows: 2-window chunks keep 256-byte alignment.
        WindowMean.Record(seq, X, Y, win, new WindowSize(1, 1, 2), SmallBindings.Of(3 * 128));
        Assert.That(seq.Dispatches, Is.EqualTo(5));
        seq.Run();
        Check.Close(Y.ToArray(), Reference(x, windows, win, 2, 1, d), 1e-6, "window_mean chunked");
    }

    [Test]
    public void RejectsMismatchedWindow()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 2, 63, 4);
        var Y = s.Empty(DType.F32, 2, 4);
        var w = new WindowSize(1, 8, 8);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => WindowMean.Record(seq, X, Y, w, w)));
        Assert.That(ex!.Message, Does.Contain("x must be [windows, 64, D]"));
        var X6 = s.Empty(DType.F32, 2, 64, 6);
        var Y6 = s.Empty(DType.F32, 2, 6);
        ex = Assert.Throws<ArgumentException>(() => Run(seq => WindowMean.Record(seq, X6, Y6, w, w)));
        Assert.That(ex!.Message, Does.Contain("multiple of 4"));
        Assert.Throws<ArgumentException>(() => WindowMean.ProxiesPerWindow(w, new WindowSize(1, 3, 8)));
    }
}
