namespace T2X.Vulkan.Models.Vae;

/// <summary>
/// The official tiled decode (CausalVAE.tiled_decode / tiled_decode2d, spec section 7): time chunks of
/// tile_latent_min_size_t latent frames overlapping by one, each decoded from scratch with its first output frame
/// dropped (except the first chunk's); within a chunk, spatial tiles of L latents every s = L·(1 − overlap), each
/// decoded plainly, blended in place in row-major tile order (rows first, then columns, over E pixels), cropped to
/// K = tile_sample_min_size − E pixels and joined.
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

    /// <summary>Decodes z [B, E, T, h, w] tile by tile with <paramref name="decodePlain"/>.</summary>
    public static VaeVolume Decode(VaeConfig c, VaeVolume z, Func<VaeVolume, VaeVolume> decodePlain)
    {
        var parts = new List<VaeVolume>();
        var chunks = TimeChunks(z.T, c.TileLatentMinSizeT);
        for (int i = 0; i < chunks.Count; i++)
        {
            var dec = Decode2d(c, z.Crop(chunks[i].start, chunks[i].end, 0, z.H, 0, z.W), decodePlain);
            parts.Add(i == 0 ? dec : dec.Crop(1, dec.T, 0, dec.H, 0, dec.W));
        }
        var first = parts[0];
        var result = VaeVolume.Zeros(first.B, first.C, parts.Sum(p => p.T), first.H, first.W);
        int t0 = 0;
        foreach (var p in parts) { p.CopyTo(result, t0, 0, 0); t0 += p.T; }
        return result;
    }

    static VaeVolume Decode2d(VaeConfig c, VaeVolume z, Func<VaeVolume, VaeVolume> decodePlain)
    {
        int l = c.TileLatentMinSize, e = c.TileBlendExtent, keep = c.TileKeep;
        var rows = Starts(z.H, c.TileLatentStride);
        var cols = Starts(z.W, c.TileLatentStride);
        var tiles = new VaeVolume[rows.Count, cols.Count];
        for (int r = 0; r < rows.Count; r++)
            for (int q = 0; q < cols.Count; q++)
                tiles[r, q] = decodePlain(z.Crop(0, z.T, rows[r], Math.Min(rows[r] + l, z.H), cols[q], Math.Min(cols[q] + l, z.W)));
        for (int r = 0; r < rows.Count; r++)
            for (int q = 0; q < cols.Count; q++)
            {
                if (r > 0) BlendRows(tiles[r - 1, q], tiles[r, q], e);
                if (q > 0) BlendColumns(tiles[r, q - 1], tiles[r, q], e);
            }
        int height = 0, width = 0;
        for (int r = 0; r < rows.Count; r++) height += Math.Min(tiles[r, 0].H, keep);
        for (int q = 0; q < cols.Count; q++) width += Math.Min(tiles[0, q].W, keep);
        var t00 = tiles[0, 0];
        var result = VaeVolume.Zeros(t00.B, t00.C, t00.T, height, width);
        int y0 = 0;
        for (int r = 0; r < rows.Count; r++)
        {
            int x0 = 0, h = Math.Min(tiles[r, 0].H, keep);
            for (int q = 0; q < cols.Count; q++)
            {
                var t = tiles[r, q];
                int w = Math.Min(t.W, keep);
                t.Crop(0, t.T, 0, h, 0, w).CopyTo(result, 0, y0, x0);
                x0 += w;
            }
            y0 += h;
        }
        return result;
    }

    /// <summary>blend_v: the first e rows of b fade in from the last e rows of a (weights y/e in double, applied in f32).</summary>
    static void BlendRows(VaeVolume a, VaeVolume b, int extent)
    {
        int e = Math.Min(Math.Min(a.H, b.H), extent);
        for (int y = 0; y < e; y++)
        {
            float wb = (float)(y / (double)e), wa = (float)(1 - y / (double)e);
            for (int n = 0; n < b.B; n++) for (int ch = 0; ch < b.C; ch++) for (int t = 0; t < b.T; t++) for (int x = 0; x < b.W; x++)
                b[n, ch, t, y, x] = a[n, ch, t, a.H - e + y, x] * wa + b[n, ch, t, y, x] * wb;
        }
    }

    /// <summary>blend_h: the first e columns of b fade in from the last e columns of a.</summary>
    static void BlendColumns(VaeVolume a, VaeVolume b, int extent)
    {
        int e = Math.Min(Math.Min(a.W, b.W), extent);
        for (int x = 0; x < e; x++)
        {
            float wb = (float)(x / (double)e), wa = (float)(1 - x / (double)e);
            for (int n = 0; n < b.B; n++) for (int ch = 0; ch < b.C; ch++) for (int t = 0; t < b.T; t++) for (int y = 0; y < b.H; y++)
                b[n, ch, t, y, x] = a[n, ch, t, y, a.W - e + x] * wa + b[n, ch, t, y, x] * wb;
        }
    }
}
