using T2X.Vulkan.Kernels;

namespace T2X.Vulkan.Models.Vae;

/// <summary>
/// The official tiled decode (CausalVAE.tiled_decode / tiled_decode2d, docs/vae.md §7): time chunks of
/// tile_latent_min_size_t latent frames overlapping by one, each decoded from scratch with its first output frame
/// dropped (except the first chunk's); within a chunk, spatial tiles of L latents every s = L·(1 − overlap), each
/// decoded plainly, blended in place in row-major tile order (rows first, then columns, over E pixels), cropped to
/// K = tile_sample_min_size − E pixels and joined. The blending and joining run on the device.
/// </summary>
public static class VaeTiles
{
    /// <summary>The latent frame ranges [start, end) of the time chunks for T latent frames and chunk length n.</summary>
    public static List<(int start, int end)> TimeChunks(int t, int n)
    {
        if (n < 2) throw new ArgumentException($"tile_latent_min_size_t must be at least 2 to tile in time, got {n}");
        var starts = new List<int>();
        for (int s = 0; s < t; s += n - 1) starts.Add(s);
        if (starts.Count == 1) return [(0, t)];
        var chunks = new List<(int, int)>();
        for (int i = 0; i < starts.Count - 1; i++) chunks.Add((starts[i], starts[i + 1] + 1));
        if (chunks[^1].Item2 < t) chunks.Add((starts[^1], t));
        return chunks;
    }

    /// <summary>Tile starts along an axis of n latents with stride s.</summary>
    public static List<int> Starts(int n, int s)
    {
        var r = new List<int>();
        for (int i = 0; i < n; i += s) r.Add(i);
        return r;
    }

    /// <summary>
    /// Decodes host latents z [B, E, T, h, w] tile by tile with <paramref name="decodePlain"/> (host latents → device
    /// sample [B, 3, T', H, W]) and joins the tiles on the device into a new sample tensor (the caller disposes it):
    /// the blends and the crops run as kernels over the tiles of one time chunk, which stay on the device meanwhile.
    /// </summary>
    public static OwnedTensor Decode(Gpu gpu, VaeConfig c, VaeVolume z, Func<VaeVolume, OwnedTensor> decodePlain)
    {
        var chunks = TimeChunks(z.T, c.TileLatentMinSizeT);
        var rows = Starts(z.H, c.TileLatentStride);
        var cols = Starts(z.W, c.TileLatentStride);
        int l = c.TileLatentMinSize, f = c.SpatialFactor, keep = c.TileKeep;
        // Tile r, q covers latents [rows[r], min(rows[r] + L, h)): 8·that many pixels, of which the first `keep` stay.
        long TileSide(List<int> starts, int i, int n) => (long)f * (Math.Min(starts[i] + l, n) - starts[i]);
        long height = rows.Select((_, r) => Math.Min(TileSide(rows, r, z.H), keep)).Sum();
        long width = cols.Select((_, q) => Math.Min(TileSide(cols, q, z.W), keep)).Sum();
        long frames = chunks.Select((ch, i) => c.OutputFrames(ch.end - ch.start) - (i == 0 ? 0 : 1)).Sum();
        var result = new OwnedTensor(Tensor.Create(gpu, DType.F32, z.B, VaeConfig.OutChannels, frames, height, width));
        try
        {
            long t0 = 0;
            for (int i = 0; i < chunks.Count; i++)
            {
                var tiles = new OwnedTensor[rows.Count, cols.Count];
                try
                {
                    for (int r = 0; r < rows.Count; r++)
                        for (int q = 0; q < cols.Count; q++)
                            tiles[r, q] = decodePlain(z.Crop(chunks[i].start, chunks[i].end, rows[r], Math.Min(rows[r] + l, z.H), cols[q], Math.Min(cols[q] + l, z.W)));
                    int skip = i == 0 ? 0 : 1;   // later chunks drop their first frame
                    using var seq = new Sequence(gpu);
                    Join(seq, c, tiles, result.T, t0, skip);
                    seq.Run();
                    t0 += tiles[0, 0].Shape[2] - skip;
                }
                finally { foreach (var t in tiles) t?.Dispose(); }
            }
            return result;
        }
        catch { result.Dispose(); throw; }
    }

    /// <summary>Blends one chunk's tiles in place in row-major tile order (rows, then columns, over E pixels; each blend
    /// reads neighbours already blended) and places every tile's kept part into the result from frame t0 on.</summary>
    static void Join(Sequence seq, VaeConfig c, OwnedTensor[,] tiles, Tensor result, long t0, int skip)
    {
        int e = c.TileBlendExtent, keep = c.TileKeep;
        long samples = result.Shape[0], channels = result.Shape[1];
        // Plane p of a [B, 3, T, H, W] tensor is (sample, channel, frame) p: an [H, W] tensor.
        static Tensor Plane(Tensor t, long n, long ch, long frame) =>
            t.Reshape(t.Shape[0] * t.Shape[1] * t.Shape[2], t.Shape[3], t.Shape[4]).Slice((n * t.Shape[1] + ch) * t.Shape[2] + frame, 1).Reshape(t.Shape[3], t.Shape[4]);
        long y0 = 0;
        for (int r = 0; r < tiles.GetLength(0); r++)
        {
            long x0 = 0, h = Math.Min(tiles[r, 0].Shape[3], keep);
            for (int q = 0; q < tiles.GetLength(1); q++)
            {
                var b = tiles[r, q].T;
                long frames = b.Shape[2], w = Math.Min(b.Shape[4], keep);
                for (long n = 0; n < samples; n++)
                    for (long ch = 0; ch < channels; ch++)
                        for (long t = 0; t < frames; t++)
                        {
                            var plane = Plane(b, n, ch, t);
                            if (r > 0)
                            {
                                var above = Plane(tiles[r - 1, q].T, n, ch, t);
                                TileBlend.Record(seq, above, plane, (int)Math.Min(Math.Min(above.Shape[0], plane.Shape[0]), e), columns: false);
                            }
                            if (q > 0)
                            {
                                var left = Plane(tiles[r, q - 1].T, n, ch, t);
                                TileBlend.Record(seq, left, plane, (int)Math.Min(Math.Min(left.Shape[1], plane.Shape[1]), e), columns: true);
                            }
                            if (t >= skip) CopyWindow.Record(seq, plane, Plane(result, n, ch, t0 + t - skip), y0, x0, h, w);
                        }
                x0 += w;
            }
            y0 += h;
        }
    }
}
