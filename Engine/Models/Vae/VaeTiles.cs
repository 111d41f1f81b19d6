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
        => Run(gpu, c, z.Shape, tile => decodePlain(z.Crop(tile.T0, tile.T1, tile.Y0, tile.Y1, tile.X0, tile.X1)), meter: null);

    /// <summary>Device bytes a tiled decode of latents [B, E, T, h, w] holds at its peak besides the weights, measured by
    /// running the decode's steps without a device: the joined sample, the tiles of the time chunk decoded so far, and
    /// the plain decode of the next tile (<see cref="VaeDecoder.MeasurePlainDecode"/>).</summary>
    internal static long MeasureDecode(VaeConfig c, long[] shape)
    {
        var meter = new Meter();
        var plain = new Dictionary<(int, int, int), (long[] Sample, long Peak)>();   // tiles mostly share a shape
        Run(null, c, shape, tile =>
        {
            var key = (tile.T1 - tile.T0, tile.Y1 - tile.Y0, tile.X1 - tile.X0);
            if (!plain.TryGetValue(key, out var p))
                plain[key] = p = VaeDecoder.MeasurePlainDecode(c, [shape[0], shape[1], key.Item1, key.Item2, key.Item3]);
            meter.Transient(p.Peak);
            return new OwnedTensor(Tensor.Unbacked(DType.F32, p.Sample));
        }, meter).Dispose();
        return meter.Peak;
    }

    /// <summary>A tile's latent ranges [T0, T1) × [Y0, Y1) × [X0, X1).</summary>
    readonly record struct TileRange(int T0, int T1, int Y0, int Y1, int X0, int X1);

    /// <summary>The device tensors a decode holds (each a buffer of its own) and the most it held with a step's own.</summary>
    sealed class Meter
    {
        long _held;
        public long Peak { get; private set; }
        public void Hold(Tensor t) => _held += TensorArena.BufferBytes(t.Bytes);
        public void Release(Tensor t) => _held -= TensorArena.BufferBytes(t.Bytes);
        public void Transient(long bytes) => Peak = Math.Max(Peak, _held + bytes);
    }

    /// <summary>The tiled decode of latents of <paramref name="shape"/>: on the device, or without one (<paramref name="gpu"/>
    /// null) to count what it holds in <paramref name="meter"/>, the tiles then having no memory and nothing being joined.</summary>
    static OwnedTensor Run(Gpu? gpu, VaeConfig c, long[] shape, Func<TileRange, OwnedTensor> decodeTile, Meter? meter)
    {
        int t = (int)shape[2], h = (int)shape[3], w = (int)shape[4];
        var chunks = TimeChunks(t, c.TileLatentMinSizeT);
        var rows = Starts(h, c.TileLatentStride);
        var cols = Starts(w, c.TileLatentStride);
        int l = c.TileLatentMinSize, f = c.SpatialFactor, keep = c.TileKeep;
        // Tile r, q covers latents [rows[r], min(rows[r] + L, h)): 8·that many pixels, of which the first `keep` stay.
        long TileSide(List<int> starts, int i, int n) => (long)f * (Math.Min(starts[i] + l, n) - starts[i]);
        long height = rows.Select((_, r) => Math.Min(TileSide(rows, r, h), keep)).Sum();
        long width = cols.Select((_, q) => Math.Min(TileSide(cols, q, w), keep)).Sum();
        long frames = chunks.Select((ch, i) => c.OutputFrames(ch.end - ch.start) - (i == 0 ? 0 : 1)).Sum();
        long[] sampleShape = [shape[0], VaeConfig.OutChannels, frames, height, width];
        var result = new OwnedTensor(gpu is null ? Tensor.Unbacked(DType.F32, sampleShape) : Tensor.Create(gpu, DType.F32, sampleShape));
        meter?.Hold(result.T);
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
                        {
                            tiles[r, q] = decodeTile(new TileRange(chunks[i].start, chunks[i].end, rows[r], Math.Min(rows[r] + l, h), cols[q], Math.Min(cols[q] + l, w)));
                            meter?.Hold(tiles[r, q].T);
                        }
                    int skip = i == 0 ? 0 : 1;   // later chunks drop their first frame
                    if (gpu is not null)
                    {
                        using var seq = new Sequence(gpu);
                        Join(seq, c, tiles, result.T, t0, skip);
                        seq.Run();
                    }
                    t0 += tiles[0, 0].Shape[2] - skip;
                }
                finally
                {
                    foreach (var tile in tiles)
                        if (tile is not null)
                        {
                            meter?.Release(tile.T);
                            tile.Dispose();
                        }
                }
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
