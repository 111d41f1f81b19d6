namespace T2X.Vulkan.Models.Vae;

/// <summary>How a decode runs: plainly or in the tiles of <paramref name="Tiles"/> (the decoder's config, or one with
/// smaller tiles when memory forced a <paramref name="Fallback"/>), and a one-line message saying so; chosen by
/// <see cref="Choose"/> from the device memory each path holds at its peak.</summary>
public sealed record VaePlan(bool Tiled, VaeConfig Tiles, string Message, bool Fallback)
{
    /// <summary>Device bytes this decode of latents of <paramref name="shape"/> holds at its peak besides the weights.</summary>
    public long ActivationBytes(long[] shape) => Tiled ? TiledDecodeBytes(Tiles, shape) : PlainDecodeBytes(Tiles, shape);

    /// <summary>Memory left for activations: the device-local heap less what this process holds on it; on CPU devices
    /// (lavapipe, docs/lavapipe.md §6: its heap reports 2 GiB but buffers are host memory and larger totals allocate fine) the host's
    /// available memory.</summary>
    public static long FreeBytes(Gpu gpu)
    {
        if (!gpu.Info.IsCpu) return (long)gpu.Info.DeviceLocalBytes - gpu.AllocatedBytes;
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
            if (line is not null) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - Environment.WorkingSet;
    }

    /// <summary>
    /// The decode path for latents of this shape with <paramref name="freeBytes"/> of memory left for activations.
    /// On and Off obey. Auto takes the official decision (<see cref="UsesTiles"/>), then, when that decode's peak
    /// (<see cref="PlainDecodeBytes"/>, <see cref="TiledDecodeBytes"/>) would not fit, halves the tile size
    /// (tile_sample_min_size 512, 256, 128, 64: latent tiles of 64 … 8, same overlap) until it fits, or takes the
    /// smallest. Smaller tiles keep GroupNorm and attention tile-local over less context, so such an image differs
    /// from the official one.
    /// </summary>
    public static VaePlan Choose(VaeConfig c, long[] shape, VaeTiling tiling, long freeBytes)
    {
        bool tiled = UsesTiles(c, shape, tiling);
        string official = tiled
            ? $"VAE: tiled decode (latent tiles of {c.TileLatentMinSize}, stride {c.TileLatentStride}, time chunks of {c.TileLatentMinSizeT})"
            : "VAE: plain decode";
        var plan = new VaePlan(tiled, c, official, Fallback: false);
        long need = plan.ActivationBytes(shape);
        if (tiling != VaeTiling.Auto || need <= freeBytes) return plan;
        string shortBy = $"VAE: a {(tiled ? "decode in the official tiles" : "plain decode")} needs about {Mb(need)} of device memory and {Mb(freeBytes)} is free";
        // Halve while the tiles still join up exactly (stride × spatial factor = kept pixels, as 56 · 8 = 448).
        VaeConfig? smallest = null;
        for (var t = c with { TileSampleMinSize = c.TileSampleMinSize / 2 };
             t.TileLatentMinSize >= 1 && t.TileLatentStride >= 1 && t.TileLatentStride * t.SpatialFactor == t.TileKeep;
             t = t with { TileSampleMinSize = t.TileSampleMinSize / 2 })
        {
            smallest = t;
            long tileNeed = TiledDecodeBytes(t, shape);
            if (tileNeed <= freeBytes)
                return new VaePlan(true, t, $"{shortBy}; decoding in tiles of {t.TileLatentMinSize} latents instead (about {Mb(tileNeed)}; " +
                    "tile-local normalisation makes the image differ slightly)", Fallback: true);
        }
        if (smallest is null) return new VaePlan(tiled, c, $"{shortBy}; no smaller tiles join up, trying anyway", Fallback: false);
        return new VaePlan(true, smallest, $"{shortBy}; even tiles of {smallest.TileLatentMinSize} latents need about " +
            $"{Mb(TiledDecodeBytes(smallest, shape))}: trying those", Fallback: true);
    }

    static string Mb(long bytes) => $"{Math.Max(0, bytes) / 1_000_000.0:F0} MB";

    /// <summary>Device bytes a tiled decode (tiles and time chunks of config <paramref name="c"/>) holds at its peak
    /// besides the weights: the joined sample, the decoded tiles of a time chunk and one tile's plain decode, measured from
    /// the decode's own steps (<see cref="VaeTiles.MeasureDecode"/>; nothing is allocated).</summary>
    public static long TiledDecodeBytes(VaeConfig c, long[] shape) => VaeTiles.MeasureDecode(c, shape);

    /// <summary>Device bytes a plain decode of latents [B, E, T, h, w] holds at its peak besides the weights, measured
    /// from the decode's own steps (<see cref="VaeDecoder.MeasurePlainDecode"/>; nothing is allocated).</summary>
    public static long PlainDecodeBytes(VaeConfig c, long[] shape) => VaeDecoder.MeasurePlainDecode(c, shape).Peak;

    /// <summary>Whether the official rule (or the user's On/Off) decodes latents of this shape [B, E, T, h, w] in tiles.</summary>
    public static bool UsesTiles(VaeConfig c, long[] shape, VaeTiling tiling) => tiling switch
    {
        VaeTiling.On => true,
        VaeTiling.Off => false,
        // Official: tiles when use_tiling and the latent exceeds one tile; below that the official code crashes
        // (UnboundLocalError, docs/vae.md, quirk V1) and we decode plainly, as Open-Sora-Plan does.
        _ => c.UseTiling && (shape[4] > c.TileLatentMinSize || shape[3] > c.TileLatentMinSize || shape[2] > c.TileLatentMinSizeT),
    };
}
