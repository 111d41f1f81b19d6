using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// tile_blend (Engine/Kernels/TileBlend.cs): the cross-fade that joins decoded VAE tiles, b's first rows (or columns)
// fading in from a's last.
public static partial class KernelTable
{
    /// <summary>Planes placed at odd offsets inside larger buffers (not at 256-byte boundaries).</summary>
    public static IEnumerable<KernelCase> TileBlends =>
    [
        TileBlend(5, 7, 3, 7, 3, false),   // rows: a 5x7 above b 3x7, extent 3 (b's whole height)
        TileBlend(9, 4, 9, 6, 4, true),    // columns: a 9x4 left of b 9x6, extent 4
        TileBlend(16, 16, 16, 16, 8, false),
        TileBlend(6, 10, 6, 3, 1, true),   // extent 1: b's first column takes a's last entirely
    ];

    /// <summary>The output is b's plane, 5 elements into its buffer (the elements before it must stay 0).</summary>
    public static KernelCase TileBlend(int ah, int aw, int bh, int bw, int e, bool columns) =>
        new($"tile_blend a {ah}x{aw} b {bh}x{bw} extent {e} {(columns ? "columns" : "rows")}", ah * 100 + bw * 10 + e, 1e-6, (s, rng) =>
    {
        var a = KernelInputs.Randn(rng, ah * aw);
        var b = KernelInputs.Randn(rng, bh * bw);
        var A = s.F32(Padded(a, 3), ah * aw + 3).Reshape(1, ah * aw + 3);
        var B = s.F32(Padded(b, 5), bh * bw + 5).Reshape(1, bh * bw + 5);
        Tensor aPlane = PlaneAt(A, 3, ah, aw), bPlane = PlaneAt(B, 5, bh, bw);
        return new(seq => Vulkan.Kernels.TileBlend.Record(seq, aPlane, bPlane, e, columns), bPlane, () =>
        {
            var want = b.Select(v => (double)v).ToArray();
            for (int y = 0; y < bh; y++)
                for (int x = 0; x < bw; x++)
                {
                    int d = columns ? x : y;
                    if (d >= e) continue;
                    double av = columns ? a[y * aw + aw - e + x] : a[(ah - e + y) * aw + x];
                    want[y * bw + x] = av * (1 - d / (double)e) + b[y * bw + x] * (d / (double)e);
                }
            return want;
        });
    });

    /// <summary>The values with <paramref name="before"/> zeros in front.</summary>
    public static float[] Padded(float[] v, int before) => new float[before].Concat(v).ToArray();

    /// <summary>The [h, w] plane that starts <paramref name="skip"/> elements into a row tensor [1, n].</summary>
    public static Tensor PlaneAt(Tensor row, int skip, int h, int w) => row.Reshape(row.Elements).Reshape(row.Elements, 1).Slice(skip, (long)h * w).Reshape(h, w);
}
