using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// unpatchify (Engine/Kernels/Unpatchify.cs): the final layer's token rows back to latents [B, C, F, H, W].
public static partial class KernelTable
{
    public static KernelCase Unpatchify(int b, int c, int f, int h, int w, int p, WindowSize win) =>
        new($"unpatchify {b}x{c}x{f}x{h}x{w} patch {p} window {win}", b + c + f + h + w, KernelCase.Exact, (s, rng) =>
    {
        int th = h / p, tw = w / p, k = p * p * c;
        long tokens = (long)f * th * tw;
        var o = KernelInputs.Randn(rng, b * tokens * k);
        Tensor O = s.F32(o, b, tokens, k), Y = s.Empty(DType.F32, b, c, f, h, w);
        return new(seq => Vulkan.Kernels.Unpatchify.Record(seq, O, Y, p, win), Y, () =>
        {
            var want = new double[Y.Elements];
            ForEachToken(b, f, th, tw, win, (bi, fi, r, cc, row) =>   // row = b·P·N + s
            {
                for (int py = 0; py < p; py++)
                    for (int px = 0; px < p; px++)
                        for (int co = 0; co < c; co++)
                            want[((((long)bi * c + co) * f + fi) * h + p * r + py) * w + p * cc + px] =
                                o[row * k + (py * p + px) * c + co];
            });
            return want;
        });
    });
}
