using System.Text.Json;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Models.Vae;

/// <summary>
/// The Open-Sora-Plan v1.2 CausalVAE decoder's settings under the official `ae` key names (MindSpeed-MM `CausalVAE`,
/// Qihoo's inference_model_image.json). Read from vae/config.json with the keys at top level or under "ae".
/// Missing keys take the released model's values (docs/vae.md §1); encoder-only keys are ignored.
/// </summary>
public sealed record VaeConfig
{
    public int HiddenSize { get; init; } = 128;                           // hidden_size
    public int[] HiddenSizeMult { get; init; } = [1, 2, 4, 4];            // hidden_size_mult
    public int ZChannels { get; init; } = 4;                              // z_channels
    public int EmbedDim { get; init; } = 4;                               // embed_dim (post_quant_conv input)
    public int NumResBlocks { get; init; } = 2;                           // num_res_blocks (the decoder runs one more per level)
    public string[] DecoderSpatialUpsample { get; init; } = ["", "SpatialUpsample2x", "Spatial2xTime2x3DUpsample", "Spatial2xTime2x3DUpsample"];
    public string[] DecoderTemporalUpsample { get; init; } = ["", "", "", ""];
    public bool UseTiling { get; init; } = true;                          // use_tiling
    public int TileSampleMinSize { get; init; } = 512;                    // tile_sample_min_size
    public int TileLatentMinSizeT { get; init; } = 8;                     // tile_latent_min_size_t
    public double TileOverlapFactor { get; init; } = 0.125;               // tile_overlap_factor
    public int NormNumGroups { get; init; } = 32;                         // norm_num_groups (hard-coded 32 in the official code)
    public double NormEps { get; init; } = 1e-6;                          // norm_eps (hard-coded 1e-6)
    public double ScaleFactor { get; init; } = 0.18215;                   // scale_factor: latents are divided by it
    /// <summary>latent_rgb (engine key, optional): the preview projection [3, embed_dim + 1] row-major, bias last;
    /// null: fitted from the decoder (<see cref="LatentPreview"/>).</summary>
    public float[]? LatentRgb { get; init; }

    public const int OutChannels = 3;

    /// <summary>The released decoder.</summary>
    public static VaeConfig Released => new();

    public int Levels => HiddenSizeMult.Length;
    /// <summary>Channels of level i (0 = the last to run, at full resolution).</summary>
    public int Width(int level) => HiddenSize * HiddenSizeMult[level];
    /// <summary>The latent tile side, derived as the official code does: tile_sample_min_size / 2^(levels − 1)
    /// (a tile_latent_min_size in the json is ignored there too).</summary>
    public int TileLatentMinSize => (int)(TileSampleMinSize / Math.Pow(2, Levels - 1));
    /// <summary>Latent stride between spatial tiles.</summary>
    public int TileLatentStride => (int)(TileLatentMinSize * (1 - TileOverlapFactor));
    /// <summary>Pixels cross-faded between neighbouring tiles.</summary>
    public int TileBlendExtent => (int)(TileSampleMinSize * TileOverlapFactor);
    /// <summary>Pixels kept per tile along each axis.</summary>
    public int TileKeep => TileSampleMinSize - TileBlendExtent;

    /// <summary>Output frames for T latent frames: each Spatial2xTime2x upsampler maps T to 2T − 1.</summary>
    public long OutputFrames(long t)
    {
        foreach (var u in DecoderSpatialUpsample) if (u == "Spatial2xTime2x3DUpsample") t = 2 * t - 1;
        return t;
    }

    /// <summary>Pixels per latent along rows and columns.</summary>
    public int SpatialFactor => 1 << DecoderSpatialUpsample.Count(u => u.Length > 0);

    public static VaeConfig Load(string path)
    {
        string text;
        try { text = InputFile.ReadAllText(path); }
        catch (FileNotFoundException) { throw new FileNotFoundException($"VAE config file not found: {path}", path); }
        try { return Parse(text); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
    }

    public static VaeConfig Parse(string json)
    {
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("the VAE config must be a JSON object");
        if (root.TryGetProperty("ae", out var ae) && ae.ValueKind == JsonValueKind.Object) root = ae;
        var d = Released;
        int zc = Int(root, "z_channels", d.ZChannels);
        var c = new VaeConfig
        {
            HiddenSize = Int(root, "hidden_size", d.HiddenSize),
            HiddenSizeMult = IntArray(root, "hidden_size_mult") ?? d.HiddenSizeMult,
            ZChannels = zc,
            EmbedDim = Int(root, "embed_dim", zc),
            NumResBlocks = Int(root, "num_res_blocks", d.NumResBlocks),
            DecoderSpatialUpsample = StringArray(root, "decoder_spatial_upsample") ?? d.DecoderSpatialUpsample,
            DecoderTemporalUpsample = StringArray(root, "decoder_temporal_upsample") ?? d.DecoderTemporalUpsample,
            UseTiling = Bool(root, "use_tiling", d.UseTiling),
            TileSampleMinSize = Int(root, "tile_sample_min_size", d.TileSampleMinSize),
            TileLatentMinSizeT = Int(root, "tile_latent_min_size_t", d.TileLatentMinSizeT),
            TileOverlapFactor = Double(root, "tile_overlap_factor", d.TileOverlapFactor),
            NormNumGroups = Int(root, "norm_num_groups", d.NormNumGroups),
            NormEps = Double(root, "norm_eps", d.NormEps),
            ScaleFactor = Double(root, "scale_factor", d.ScaleFactor),
            LatentRgb = Matrix(root, "latent_rgb"),
        };
        if (root.TryGetProperty("attn_resolutions", out var attn) && attn.ValueKind == JsonValueKind.Array && attn.GetArrayLength() > 0)
            throw new InvalidDataException("attn_resolutions must be empty (the released decoder has attention only in its middle block)");
        c.Validate();
        return c;
    }

    /// <summary>Throws InvalidDataException naming the first setting the decoder cannot run with.</summary>
    public void Validate()
    {
        void Positive(string key, double v) { if (!(v > 0)) throw new InvalidDataException($"{key} must be positive, got {v}"); }
        Positive("hidden_size", HiddenSize);
        Positive("z_channels", ZChannels);
        Positive("embed_dim", EmbedDim);
        Positive("num_res_blocks", NumResBlocks);
        Positive("norm_num_groups", NormNumGroups);
        Positive("norm_eps", NormEps);
        Positive("scale_factor", ScaleFactor);
        Positive("tile_sample_min_size", TileSampleMinSize);
        if (TileLatentMinSizeT < 2) throw new InvalidDataException($"tile_latent_min_size_t must be at least 2 (time chunks overlap by one latent frame), got {TileLatentMinSizeT}");
        if (HiddenSizeMult.Length == 0 || HiddenSizeMult.Any(m => m < 1))
            throw new InvalidDataException($"hidden_size_mult must be a non-empty list of positive integers, got [{string.Join(", ", HiddenSizeMult)}]");
        if (DecoderSpatialUpsample.Length != Levels || DecoderTemporalUpsample.Length != Levels)
            throw new InvalidDataException($"decoder_spatial_upsample and decoder_temporal_upsample need one entry per level of hidden_size_mult ({Levels})");
        foreach (var u in DecoderSpatialUpsample)
            if (u is not ("" or "SpatialUpsample2x" or "Spatial2xTime2x3DUpsample"))
                throw new InvalidDataException($"decoder_spatial_upsample entry '{u}' is not supported (expected \"\", \"SpatialUpsample2x\" or \"Spatial2xTime2x3DUpsample\")");
        if (DecoderTemporalUpsample.Any(u => u.Length > 0))
            throw new InvalidDataException("decoder_temporal_upsample must be all \"\" (the released decoder has no separate time upsampler)");
        for (int i = 0; i < Levels; i++)
            if (Width(i) % NormNumGroups != 0 || Width(i) % 4 != 0)
                throw new InvalidDataException($"level {i} has {Width(i)} channels: it must be a multiple of norm_num_groups ({NormNumGroups}) and of 4");
        if (LatentRgb is not null && LatentRgb.Length != 3 * (EmbedDim + 1))
            throw new InvalidDataException($"latent_rgb must be 3 rows of embed_dim + 1 = {EmbedDim + 1} numbers (bias last)");
        if (!(TileOverlapFactor >= 0 && TileOverlapFactor < 1)) throw new InvalidDataException($"tile_overlap_factor must be in [0, 1), got {TileOverlapFactor}");
        if (TileLatentMinSize < 1 || TileLatentStride < 1)
            throw new InvalidDataException($"tile_sample_min_size {TileSampleMinSize} gives latent tiles of {TileLatentMinSize} with stride {TileLatentStride}; both must be at least 1");
    }

    /// <summary>The decoder's checkpoint keys and shapes in the official layout (decoder.* then post_quant_conv.*).</summary>
    public IEnumerable<(string name, long[] shape)> Keys()
    {
        static IEnumerable<(string, long[])> Conv(string p, long cout, long cin, long kt, long k) =>
            [($"{p}.conv.weight", [cout, cin, kt, k, k]), ($"{p}.conv.bias", [cout])];
        static IEnumerable<(string, long[])> Norm(string p, long c) => [($"{p}.weight", [c]), ($"{p}.bias", [c])];
        IEnumerable<(string, long[])> Res(string p, long cin, long cout)
        {
            foreach (var k in Norm($"{p}.norm1", cin)) yield return k;
            foreach (var k in Conv($"{p}.conv1", cout, cin, 3, 3)) yield return k;
            foreach (var k in Norm($"{p}.norm2", cout)) yield return k;
            foreach (var k in Conv($"{p}.conv2", cout, cout, 3, 3)) yield return k;
            if (cin != cout) foreach (var k in Conv($"{p}.nin_shortcut", cout, cin, 1, 1)) yield return k;
        }
        long top = Width(Levels - 1);
        foreach (var k in Conv("decoder.conv_in", top, ZChannels, 3, 3)) yield return k;
        foreach (var k in Res("decoder.mid.block_1", top, top)) yield return k;
        foreach (var k in Norm("decoder.mid.attn_1.norm", top)) yield return k;
        foreach (var n in new[] { "q", "k", "v", "proj_out" })
            foreach (var k in Conv($"decoder.mid.attn_1.{n}", top, top, 1, 1)) yield return k;
        foreach (var k in Res("decoder.mid.block_2", top, top)) yield return k;
        // The official state_dict lists up.0 first although up.{Levels-1} runs first.
        var inputs = new long[Levels];
        long cur = top;
        for (int i = Levels - 1; i >= 0; i--) { inputs[i] = cur; cur = Width(i); }
        for (int i = 0; i < Levels; i++)
        {
            long cin = inputs[i], w = Width(i);
            for (int b = 0; b <= NumResBlocks; b++)
                foreach (var k in Res($"decoder.up.{i}.block.{b}", b == 0 ? cin : w, w)) yield return k;
            if (DecoderSpatialUpsample[i] == "SpatialUpsample2x")
                foreach (var k in Conv($"decoder.up.{i}.upsample.conv", w, w, 1, 3)) yield return k;
            else if (DecoderSpatialUpsample[i] == "Spatial2xTime2x3DUpsample")
                foreach (var k in Conv($"decoder.up.{i}.upsample.conv", w, w, 3, 3)) yield return k;
        }
        foreach (var k in Norm("decoder.norm_out", Width(0))) yield return k;
        foreach (var k in Conv("decoder.conv_out", OutChannels, Width(0), 3, 3)) yield return k;
        foreach (var k in Conv("post_quant_conv", ZChannels, EmbedDim, 1, 1)) yield return k;
    }

    static int Int(JsonElement o, string key, int fallback) =>
        o.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null
            ? (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? ConfigLimits.AtMost(key, i) : throw new InvalidDataException($"{key} must be an integer, got {v}"))
            : fallback;
    static double Double(JsonElement o, string key, double fallback) =>
        o.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null
            ? (v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw new InvalidDataException($"{key} must be a number, got {v}"))
            : fallback;
    static bool Bool(JsonElement o, string key, bool fallback) =>
        o.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null
            ? (v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw new InvalidDataException($"{key} must be true or false, got {v}"))
            : fallback;
    static int[]? IntArray(JsonElement o, string key)
    {
        if (!o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{key} must be a list of integers, got {v}");
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int i) ? i : throw new InvalidDataException($"{key} must be a list of integers, got {v}")).ToArray();
    }
    static float[]? Matrix(JsonElement o, string key)
    {
        if (!o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        var bad = new InvalidDataException($"{key} must be a list of rows of numbers, got {v}");
        if (v.ValueKind != JsonValueKind.Array) throw bad;
        return v.EnumerateArray().SelectMany(row => row.ValueKind == JsonValueKind.Array ? row.EnumerateArray() : throw bad)
            .Select(e => e.ValueKind == JsonValueKind.Number ? e.GetSingle() : throw bad).ToArray();
    }
    static string[]? StringArray(JsonElement o, string key)
    {
        if (!o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{key} must be a list of strings, got {v}");
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new InvalidDataException($"{key} must be a list of strings, got {v}")).ToArray();
    }
}
