using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

[TestFixture(AttentionVariant.Subgroup)]
[TestFixture(AttentionVariant.SharedMemory)]
public sealed class WindowAttentionTests(AttentionVariant variant) : GpuTest
{
    // batch, grid F×h×w, window cf×ch×cw, heads, head dim
    [TestCase(1, 1, 8, 8, 1, 4, 4, 2, 8, false)]
    [TestCase(1, 1, 8, 8, 1, 4, 4, 2, 8, true)]
    [TestCase(2, 2, 6, 4, 2, 2, 2, 2, 12, true)]     // cf = 2: a real shift along frames; non-square
    [TestCase(1, 2, 4, 8, 1, 4, 4, 3, 12, true)]     // F = 2, cf = 1: no temporal split (docs/ptdit.md, quirk Q5)
    [TestCase(1, 2, 4, 8, 1, 4, 4, 3, 12, false)]
    [TestCase(1, 1, 6, 9, 1, 3, 3, 2, 8, true)]      // 9-token windows, odd shift
    [TestCase(2, 1, 16, 8, 1, 8, 8, 2, 72, true)]    // the released window and head dim
    [TestCase(1, 2, 8, 8, 2, 4, 4, 1, 64, false)]
    public void MatchesCpu(int batch, int frames, int height, int width, int cf, int ch, int cw, int heads, int headDim, bool shifted)
    {
        var grid = new WindowGrid(frames, height, width, cf, ch, cw);
        int p = grid.Windows, n = grid.Tokens, rows = batch * p, c = heads * headDim;
        var rng = new Random(HashCode.Combine(batch, frames, height, width, cf, ch, headDim, shifted));
        // Q, K, V are column slices of one fused projection output [B·P, N, 3·H·d].
        var qkv = Check.Randn(rng, rows * n * 3 * c);
        var qkvT = Tensor.FromArray(Gpu, qkv, rows, n, 3 * c);
        var o = Tensor.Create(Gpu, DType.F32, rows, n, c);
        double scale = 1 / Math.Sqrt(headDim);

        Run(s => WindowAttention.Record(s, new(qkvT, 0), new(qkvT, c), new(qkvT, 2 * c), o, heads, headDim, (float)scale, grid, shifted, variant));

        var want = Reference(qkv, batch, grid, heads, headDim, scale, shifted);
        Check.Close(o.ToArray(), want, 1e-5, $"window attention {variant} shifted={shifted}");
        qkvT.Buffer.Dispose();
        o.Buffer.Dispose();
    }

    /// <summary>
    /// The official computation, literally: window layout → grid, roll by −(cf/2, ch/2, cw/2), cut into windows,
    /// attention with the Swin mask built from Python slice assignments, back to the grid, roll back, window layout.
    /// </summary>
    static double[] Reference(float[] qkv, int batch, WindowGrid g, int heads, int d, double scale, bool shifted)
    {
        int c = heads * d, width = 3 * c, n = g.Tokens, p = g.Windows;
        var (sf, sh, sw) = shifted ? (g.WindowFrames / 2, g.WindowHeight / 2, g.WindowWidth / 2) : (0, 0, 0);
        // grid[b, f, r, col] row of the window layout holding that token
        var windowed = new float[qkv.Length];
        var label = new int[g.Frames, g.Height, g.Width];
        if (shifted)
        {
            int cnt = 0;
            foreach (var (f0, f1) in Slices(g.Frames, g.WindowFrames, sf))
                foreach (var (r0, r1) in Slices(g.Height, g.WindowHeight, sh))
                    foreach (var (c0, c1) in Slices(g.Width, g.WindowWidth, sw))
                    {
                        for (int f = f0; f < f1; f++) for (int r = r0; r < r1; r++) for (int x = c0; x < c1; x++) label[f, r, x] = cnt;
                        cnt++;
                    }
        }
        // Rolled layout: row (b, p, t) of Xs holds the token at the rolled grid cell of (p, t).
        var rolledLabel = new int[batch * p * n];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < p * n; t++)
            {
                var (f, r, x) = Cell(g, t / n, t % n);
                var (fo, ro, xo) = ((f + sf) % g.Frames, (r + sh) % g.Height, (x + sw) % g.Width);
                int src = b * p * n + RowOf(g, fo, ro, xo);
                Array.Copy(qkv, src * width, windowed, (b * p * n + t) * width, width);
                rolledLabel[b * p * n + t] = label[f, r, x];
            }
        var rolledOut = new double[batch * p * n * c];
        HeadRows q = new(windowed, width, 0), k = new(windowed, width, c), v = new(windowed, width, 2 * c);
        for (int w = 0; w < batch * p; w++)
        {
            var rowsOfWindow = AttentionReference.Range(w * n, n);
            double Mask(int i, int j) => rolledLabel[w * n + i] == rolledLabel[w * n + j] ? 0 : -10000.0;
            for (int h = 0; h < heads; h++)
                AttentionReference.Head(q, rowsOfWindow, k, v, rowsOfWindow, h, d, scale, Mask, rolledOut, c, rowsOfWindow);
        }
        // Inverse roll: the result at rolled cell (f, r, x) belongs to the token at ((f+sf) mod F, ...).
        var result = new double[rolledOut.Length];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < p * n; t++)
            {
                var (f, r, x) = Cell(g, t / n, t % n);
                int dst = b * p * n + RowOf(g, (f + sf) % g.Frames, (r + sh) % g.Height, (x + sw) % g.Width);
                Array.Copy(rolledOut, (b * p * n + t) * c, result, dst * c, c);
            }
        return result;
    }

    /// <summary>Grid cell of in-window token t of window w (docs/ptdit.md §5).</summary>
    static (int f, int r, int x) Cell(WindowGrid g, int w, int t)
    {
        int nh = g.Height / g.WindowHeight, nw = g.Width / g.WindowWidth;
        int iF = w / (nh * nw), iH = w / nw % nh, iW = w % nw;
        int x = t / (g.WindowHeight * g.WindowWidth), y = t / g.WindowWidth % g.WindowHeight, z = t % g.WindowWidth;
        return (iF * g.WindowFrames + x, iH * g.WindowHeight + y, iW * g.WindowWidth + z);
    }

    /// <summary>Row (p·N + n) of a sample's window layout that holds grid cell (f, r, x).</summary>
    static int RowOf(WindowGrid g, int f, int r, int x)
    {
        for (int w = 0; w < g.Windows; w++)
            for (int t = 0; t < g.Tokens; t++)
                if (Cell(g, w, t) == (f, r, x)) return w * g.Tokens + t;
        throw new InvalidOperationException("cell outside the grid");
    }

    /// <summary>The official region slices (0, −window), (−window, −shift), (−shift, None) with Python's meaning
    /// of negative bounds, −0 included: a shift of 0 makes the last slice the whole axis.</summary>
    static IEnumerable<(int, int)> Slices(int len, int window, int shift)
    {
        static int Bound(int i, int len) => i < 0 ? Math.Max(0, len + i) : Math.Min(i, len);
        yield return (0, Bound(-window, len));
        yield return (Bound(-window, len), Bound(-shift, len));
        yield return (Bound(-shift, len), len);
    }

    [Test]
    public void RejectsBadShapes()
    {
        var x = Tensor.Create(Gpu, DType.F32, 4, 16, 16);
        var o = Tensor.Create(Gpu, DType.F32, 4, 16, 16);
        using var seq = new Sequence(Gpu);
        void Throws(TestDelegate call, string part) =>
            Assert.That(Assert.Throws<ArgumentException>(call)!.Message, Does.Contain(part));
        Throws(() => WindowAttention.Record(seq, x, x, x, o, 2, 8, 1f, new WindowGrid(1, 8, 6, 1, 4, 4), false), "whole number of windows");
        Throws(() => WindowAttention.Record(seq, x, x, x, o, 2, 8, 1f, new WindowGrid(1, 8, 16, 1, 4, 4), false), "P = 8 windows");
        Throws(() => WindowAttention.Record(seq, x, x, x, o, 2, 8, 1f, new WindowGrid(1, 4, 8, 1, 4, 2), false), "q must be f32 [4, 8, C]");
        Throws(() => WindowAttention.Record(seq, x, x, x, o, 3, 8, 1f, new WindowGrid(1, 8, 8, 1, 4, 4), true), "channel offset");
        x.Buffer.Dispose();
        o.Buffer.Dispose();
    }
}
