using System.Text.Json;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Models.PtDit;

/// <summary>
/// The PT-DiT predictor's hyper-parameters under the official config key names (MindSpeed-MM `PTDiTDiffuser`).
/// Read from a config.json with the keys at top level, or from the official inference json's "predictor" section.
/// Keys that do not change inference (dropout, norm_num_groups, num_embeds_ada_norm, upcast_attention,
/// attention_type, model_id, dtype, from_pretrained, ...) are accepted and ignored.
/// </summary>
public sealed record PtDitConfig
{
    public int NumHeads { get; init; } = 16;                 // num_heads
    public int HeadDim { get; init; } = 72;                  // head_dim
    public int InChannels { get; init; } = 4;                // in_channels
    public int OutChannels { get; init; } = 8;               // out_channels (null in the json: = in_channels)
    public int NumLayers { get; init; } = 28;                // num_layers
    public int CaptionChannels { get; init; } = 4096;        // caption_channels
    public int CrossAttentionDim { get; init; } = 1152;      // cross_attention_dim (must equal the model width)
    public bool AttentionBias { get; init; } = true;         // attention_bias: q/k/v projections have biases
    public int PatchSize { get; init; } = 2;                 // patch_size
    public int SampleSize { get; init; } = 32;               // sample_size: sizes the stored position table only
    public int Frame { get; init; } = 1;                     // frame: frames of the stored position table
    public int[] CompressRatios { get; init; } = [1, 8, 8];      // compress_ratios: window (frames, rows, cols) in tokens
    public int[] ProxyCompressRatios { get; init; } = [1, 8, 8]; // proxy_compress_ratios
    public bool ShiftWindow { get; init; } = true;           // shift_window
    public double NormEps { get; init; } = 1e-6;             // norm_eps
    public string NormType { get; init; } = "ada_norm_single";       // norm_type
    public string ActivationFn { get; init; } = "gelu-approximate";  // activation_fn
    public bool NormElementwiseAffine { get; init; }         // norm_elementwise_affine

    /// <summary>Model width D = num_heads × head_dim.</summary>
    public int Dim => NumHeads * HeadDim;
    /// <summary>Feed-forward hidden width (diffusers FeedForward, mult 4).</summary>
    public int FfDim => 4 * Dim;
    /// <summary>Window size in tokens (frames, rows, cols).</summary>
    public (int F, int H, int W) Window => (CompressRatios[0], CompressRatios[1], CompressRatios[2]);
    /// <summary>Tokens per window.</summary>
    public int WindowTokens => CompressRatios[0] * CompressRatios[1] * CompressRatios[2];
    /// <summary>Proxy lattice strides inside a window (frames, rows, cols): proxies per window along each axis.
    /// The temporal ratio is always 1 (docs/ptdit.md, quirk Q6); rows/cols are window / proxy ratio.</summary>
    public (int F, int H, int W) ProxyStride => (1, CompressRatios[1] / ProxyCompressRatios[1], CompressRatios[2] / ProxyCompressRatios[2]);
    /// <summary>Proxy tokens per window.</summary>
    public int ProxiesPerWindow => ProxyStride.H * ProxyStride.W;
    /// <summary>Positions of the spatial sin-cos bands are divided by this (max(sample_size // 64, 1)).</summary>
    public int PosInterpolationScale => Math.Max(SampleSize / 64, 1);
    /// <summary>Channels of the predictor output that the sampler uses (the official code takes the first half).</summary>
    public int SampledChannels => InChannels;

    /// <summary>The released Qihoo-T2I predictor.</summary>
    public static PtDitConfig Released => new();

    /// <summary>Reads config.json (keys at top level or under "predictor").</summary>
    public static PtDitConfig Load(string path)
    {
        string text;
        try { text = InputFile.ReadAllText(path); }
        catch (FileNotFoundException) { throw new FileNotFoundException($"config file not found: {path}", path); }
        try { return Parse(text); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
    }

    /// <summary>Parses the json text of a config (keys at top level or under "predictor") and validates it.</summary>
    public static PtDitConfig Parse(string json)
    {
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("the config must be a JSON object");
        if (root.TryGetProperty("predictor", out var p) && p.ValueKind == JsonValueKind.Object) root = p;

        // Missing keys take the official constructor's defaults (PTDiTDiffuser.__init__), not the released values;
        // where that default cannot run (None, "layer_norm", "geglu", affine norms) Validate says so.
        var r = new Reader(root);
        int inCh = r.IntOrNull("in_channels", null) ?? throw new InvalidDataException("in_channels is missing or null");
        var c = new PtDitConfig
        {
            // The first release named these num_attention_heads / attention_head_dim; both spellings are read.
            NumHeads = r.IntOrNull("num_heads", r.IntOrNull("num_attention_heads", 16)) ?? throw Null("num_heads"),
            HeadDim = r.IntOrNull("head_dim", r.IntOrNull("attention_head_dim", 88)) ?? throw Null("head_dim"),
            InChannels = inCh,
            OutChannels = r.IntOrNull("out_channels", null) ?? inCh,
            NumLayers = r.IntOrNull("num_layers", 1) ?? throw Null("num_layers"),
            CaptionChannels = r.IntOrNull("caption_channels", null) ?? throw new InvalidDataException("caption_channels is missing or null: the predictor needs a caption projection"),
            CrossAttentionDim = r.IntOrNull("cross_attention_dim", null) ?? throw new InvalidDataException("cross_attention_dim is missing or null: the predictor needs text cross-attention"),
            AttentionBias = r.Bool("attention_bias", false),
            PatchSize = r.IntOrNull("patch_size", null) ?? throw new InvalidDataException("patch_size is missing or null"),
            SampleSize = r.IntOrNull("sample_size", null) ?? throw new InvalidDataException("sample_size is missing or null (the official model requires it)"),
            Frame = r.IntOrNull("frame", null) ?? throw new InvalidDataException("frame is missing or null (the official model requires it; 1 for images)"),
            CompressRatios = r.IntArrayOrNull("compress_ratios") ?? [1, 8, 8],
            ProxyCompressRatios = r.IntArrayOrNull("proxy_compress_ratios") ?? [1, 4, 4],
            ShiftWindow = r.Bool("shift_window", false),
            NormEps = r.Double("norm_eps", 1e-5),
            NormType = r.String("norm_type", "layer_norm"),
            ActivationFn = r.String("activation_fn", "geglu"),
            NormElementwiseAffine = r.Bool("norm_elementwise_affine", true),
        };
        c.Validate();
        return c;
    }

    /// <summary>Throws InvalidDataException naming the first key whose value the model cannot run with.</summary>
    public void Validate()
    {
        void Positive(string key, int v) { if (v < 1) throw new InvalidDataException($"{key} must be a positive integer, got {v}"); }
        Positive("num_heads", NumHeads);
        Positive("head_dim", HeadDim);
        Positive("in_channels", InChannels);
        Positive("out_channels", OutChannels);
        Positive("num_layers", NumLayers);
        ConfigLimits.AtMost("num_layers", NumLayers, ConfigLimits.MaxLayers);
        Positive("caption_channels", CaptionChannels);
        ConfigLimits.AtMost("num_heads × head_dim", (int)Math.Min((long)NumHeads * HeadDim, int.MaxValue));
        Positive("patch_size", PatchSize);
        Positive("sample_size", SampleSize);
        Positive("frame", Frame);
        if (Dim % 16 != 0)
            throw new InvalidDataException($"num_heads × head_dim = {Dim} must be a multiple of 16 (the 3-D sin-cos position table splits the width into bands)");
        if (CrossAttentionDim != Dim)
            throw new InvalidDataException($"cross_attention_dim is {CrossAttentionDim}, but the keys of text and proxy attention have the model width num_heads × head_dim = {Dim}; they must be equal");
        if (NormType != "ada_norm_single")
            throw new InvalidDataException($"norm_type '{NormType}' is not supported (the official PT-DiT only runs with 'ada_norm_single')");
        if (ActivationFn != "gelu-approximate")
            throw new InvalidDataException($"activation_fn '{ActivationFn}' is not supported (expected 'gelu-approximate')");
        if (NormElementwiseAffine)
            throw new InvalidDataException("norm_elementwise_affine = true is not supported (the released model has no LayerNorm parameters)");
        if (SampleSize == 128)
            throw new InvalidDataException("sample_size 128 turns on PixArt's resolution/aspect-ratio conditioning in the official code, which its pipeline cannot feed; not supported");
        if (!(NormEps > 0)) throw new InvalidDataException($"norm_eps must be positive, got {NormEps}");
        if (CompressRatios.Length != 3 || CompressRatios.Any(v => v < 1))
            throw new InvalidDataException($"compress_ratios must be 3 positive integers (frames, rows, cols), got [{string.Join(", ", CompressRatios)}]");
        if (ProxyCompressRatios.Length != 3 || ProxyCompressRatios.Any(v => v < 1))
            throw new InvalidDataException($"proxy_compress_ratios must be 3 positive integers, got [{string.Join(", ", ProxyCompressRatios)}]");
        for (int a = 1; a < 3; a++)
            if (CompressRatios[a] % ProxyCompressRatios[a] != 0)
                throw new InvalidDataException($"proxy_compress_ratios[{a}] = {ProxyCompressRatios[a]} must divide compress_ratios[{a}] = {CompressRatios[a]}");
    }

    /// <summary>
    /// Checks a latent size [F, H, W] (latent pixels): H and W multiples of patch_size × window, F a multiple of the
    /// window's frames. The error names the allowed sizes nearest to the requested one.
    /// </summary>
    public void CheckLatentSize(long frames, long height, long width, string what = "latents")
    {
        var (cf, ch, cw) = Window;
        string? Problem(string axis, long v, long step, string why)
        {
            if (v >= step && v % step == 0) return null;
            long lo = v / step * step, hi = lo + step;
            string near = lo >= step ? $"{lo} or {hi}" : $"{hi}";
            return $"{what} {axis} {v} is not a multiple of {why} = {step}; nearest allowed: {near}";
        }
        var err = Problem("frames", frames, cf, $"compress_ratios[0]")
               ?? Problem("height", height, (long)PatchSize * ch, $"patch_size × compress_ratios[1] = {PatchSize} × {ch}")
               ?? Problem("width", width, (long)PatchSize * cw, $"patch_size × compress_ratios[2] = {PatchSize} × {cw}");
        if (err != null) throw new ArgumentException(err);
    }

    /// <summary>Checks an image size in pixels (latent × <paramref name="vaeScale"/>), naming the allowed pixel sizes nearby.</summary>
    public void CheckPixelSize(long heightPx, long widthPx, int vaeScale = 8)
    {
        long stepH = (long)vaeScale * PatchSize * CompressRatios[1], stepW = (long)vaeScale * PatchSize * CompressRatios[2];
        string? Problem(string axis, long v, long step)
        {
            if (v >= step && v % step == 0) return null;
            long lo = v / step * step, hi = lo + step;
            return $"{axis} {v} px is not a multiple of VAE scale × patch_size × window = {vaeScale} × {PatchSize} × {step / vaeScale / PatchSize} = {step}; nearest allowed: {(lo >= step ? $"{lo} or {hi}" : $"{hi}")} px";
        }
        var err = Problem("height", heightPx, stepH) ?? Problem("width", widthPx, stepW);
        if (err != null) throw new ArgumentException(err);
    }

    static InvalidDataException Null(string key) => new($"{key} must not be null");

    /// <summary>Reads typed values by official key name; a key present with the wrong type is an error that names it.</summary>
    readonly struct Reader(JsonElement o)
    {
        bool Get(string key, out JsonElement e) => o.TryGetProperty(key, out e) && e.ValueKind != JsonValueKind.Null;

        public int? IntOrNull(string key, int? fallback)
        {
            if (!o.TryGetProperty(key, out var e)) return fallback;
            if (e.ValueKind == JsonValueKind.Null) return null;
            if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v)) return ConfigLimits.AtMost(key, v);
            throw new InvalidDataException($"{key} must be an integer, got {e.GetRawText()}");
        }

        public double Double(string key, double fallback)
        {
            if (!Get(key, out var e)) return fallback;
            if (e.ValueKind == JsonValueKind.Number) return e.GetDouble();
            throw new InvalidDataException($"{key} must be a number, got {e.GetRawText()}");
        }

        public bool Bool(string key, bool fallback)
        {
            if (!Get(key, out var e)) return fallback;
            return e.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new InvalidDataException($"{key} must be true or false, got {e.GetRawText()}"),
            };
        }

        public string String(string key, string fallback)
        {
            if (!Get(key, out var e)) return fallback;
            return e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new InvalidDataException($"{key} must be a string, got {e.GetRawText()}");
        }

        public int[]? IntArrayOrNull(string key)
        {
            if (!Get(key, out var e)) return null;
            if (e.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{key} must be a list of integers, got {e.GetRawText()}");
            return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int v) ? v
                : throw new InvalidDataException($"{key} must be a list of integers, got {e.GetRawText()}")).ToArray();
        }
    }

    /// <summary>The config as a json object with the official key names (what Parse reads back).</summary>
    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["num_heads"] = NumHeads, ["head_dim"] = HeadDim, ["in_channels"] = InChannels, ["out_channels"] = OutChannels,
        ["num_layers"] = NumLayers, ["caption_channels"] = CaptionChannels, ["cross_attention_dim"] = CrossAttentionDim,
        ["attention_bias"] = AttentionBias, ["patch_size"] = PatchSize, ["sample_size"] = SampleSize, ["frame"] = Frame,
        ["compress_ratios"] = CompressRatios, ["proxy_compress_ratios"] = ProxyCompressRatios, ["shift_window"] = ShiftWindow,
        ["norm_eps"] = NormEps, ["norm_type"] = NormType, ["activation_fn"] = ActivationFn, ["norm_elementwise_affine"] = NormElementwiseAffine,
    }, new JsonSerializerOptions { WriteIndented = true });
}
