using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// patchify (Engine/Kernels/Patchify.cs): latents [B, C, F, H, W] to patch rows in window-major token order.
public static partial class KernelTable
{
    public static KernelCase Patchify(int b, int c, int f, int h, int w, int p, WindowSize win) =>
        new($"patchify {b}x{c}x{f}x{h}x{w} patch {p} window {win}", b * c * f * h * w, KernelCase.Exact, (s, rng) =>
    {
        var lat = KernelInputs.Randn(rng, (long)b * c * f * h * w);
        int th = h / p, tw = w / p, cols = c * p * p;
        Tensor L = s.F32(lat, b, c, f, h, w), Y = s.Empty(DType.F32, (long)b * f * th * tw, cols);
        return new(seq => Vulkan.Kernels.Patchify.Record(seq, L, Y, p, win), Y, () =>
        {
            var want = new double[Y.Elements];
            ForEachToken(b, f, th, tw, win, (bi, fi, r, cc, row) =>
            {
                for (int ci = 0; ci < c; ci++)
                    for (int ky = 0; ky < p; ky++)
                        for (int kx = 0; kx < p; kx++)
                            want[row * cols + (ci * p + ky) * p + kx] =
                                lat[((((long)bi * c + ci) * f + fi) * h + p * r + ky) * w + p * cc + kx];
            });
            return want;
        });
    });

    /// <summary>Calls <paramref name="visit"/>(b, f, r, c, row) for every token of a [b, f, th, tw] token grid, with the
    /// token's row in window-major order.</summary>
    public static void ForEachToken(int b, int f, int th, int tw, WindowSize win, Action<int, int, int, int, long> visit)
    {
        int nf = f / win.Frames, nh = th / win.Rows, nw = tw / win.Cols;
        for (int bi = 0; bi < b; bi++)
            for (int fi = 0; fi < f; fi++)
                for (int r = 0; r < th; r++)
                    for (int cc = 0; cc < tw; cc++)
                        visit(bi, fi, r, cc, TokenRow(bi, fi, r, cc, nf, nh, nw, win));
    }

    /// <summary>Row of token (b, f, r, c) in window-major order (docs/ptdit.md §5), written from its formulas.</summary>
    public static long TokenRow(long b, long f, long r, long c, long nf, long nh, long nw, WindowSize w)
    {
        long win = ((f / w.Frames) * nh + r / w.Rows) * nw + c / w.Cols;
        long n = ((f % w.Frames) * w.Rows + r % w.Rows) * w.Cols + c % w.Cols;
        return (b * nf * nh * nw + win) * w.Tokens + n;
    }
}
