using System.Numerics;
using System.Text.Json;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Models.T5;

/// <summary>The encoder fields of a Hugging Face T5 config.json (transformers' T5Config), official names.</summary>
public sealed record T5Config
{
    public int VocabSize { get; init; } = 32128;
    public int DModel { get; init; } = 512;
    public int DKv { get; init; } = 64;
    public int NumHeads { get; init; } = 8;
    public int DFf { get; init; } = 2048;
    public int NumLayers { get; init; } = 6;
    public int RelativeAttentionNumBuckets { get; init; } = 32;
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    public double LayerNormEpsilon { get; init; } = 1e-6;
    /// <summary>"ACT" or "gated-ACT" (transformers maps "gated-gelu" to gelu_new).</summary>
    public string FeedForwardProj { get; init; } = "relu";
    /// <summary>The feed-forward activation: an explicit dense_act_fn in the file wins over the derived one.</summary>
    public string DenseActFn { get; init; } = "relu";
    public bool IsGatedAct { get; init; }
    public int PadTokenId { get; init; } = 0;
    public int EosTokenId { get; init; } = 1;

    /// <summary>H · d_kv, the width of q, k, v and the input of o.</summary>
    public int InnerDim => NumHeads * DKv;

    public static T5Config FromFolder(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"T5 folder {folder}: no config.json", path);
        try { return Parse(InputFile.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
    }

    public static T5Config Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("config.json must hold a JSON object");
        var d = new T5Config();
        int Int(string name, int fallback)
        {
            if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
            return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? ConfigLimits.AtMost($"\"{name}\"", i)
                : throw new InvalidDataException($"\"{name}\" must be an integer, got {v.GetRawText()}");
        }
        string ffProj = root.TryGetProperty("feed_forward_proj", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : d.FeedForwardProj;
        var parts = ffProj.Split('-');
        bool gated = parts[0] == "gated";
        if (parts.Length > 2 || parts.Length == 2 && !gated)
            throw new InvalidDataException($"\"feed_forward_proj\" is '{ffProj}': expected 'ACT' or 'gated-ACT'");
        string act = ffProj == "gated-gelu" ? "gelu_new" : parts[^1];
        if (root.TryGetProperty("dense_act_fn", out var a) && a.ValueKind == JsonValueKind.String) act = a.GetString()!;
        if (root.TryGetProperty("is_gated_act", out var g) && g.ValueKind is JsonValueKind.True or JsonValueKind.False) gated = g.GetBoolean();
        var c = new T5Config
        {
            VocabSize = Int("vocab_size", d.VocabSize),
            DModel = Int("d_model", d.DModel),
            DKv = Int("d_kv", d.DKv),
            NumHeads = Int("num_heads", d.NumHeads),
            DFf = Int("d_ff", d.DFf),
            NumLayers = Int("num_layers", d.NumLayers),
            RelativeAttentionNumBuckets = Int("relative_attention_num_buckets", d.RelativeAttentionNumBuckets),
            RelativeAttentionMaxDistance = Int("relative_attention_max_distance", d.RelativeAttentionMaxDistance),
            LayerNormEpsilon = root.TryGetProperty("layer_norm_epsilon", out var e) && e.ValueKind == JsonValueKind.Number ? e.GetDouble() : d.LayerNormEpsilon,
            FeedForwardProj = ffProj,
            DenseActFn = act,
            IsGatedAct = gated,
            PadTokenId = Int("pad_token_id", d.PadTokenId),
            EosTokenId = Int("eos_token_id", d.EosTokenId),
        };
        c.Validate();
        return c;
    }

    public void Validate()
    {
        void Positive(string name, long v) { if (v <= 0) throw new InvalidDataException($"\"{name}\" must be positive, got {v}"); }
        Positive("vocab_size", VocabSize);
        Positive("d_model", DModel);
        Positive("d_kv", DKv);
        Positive("num_heads", NumHeads);
        Positive("d_ff", DFf);
        Positive("num_layers", NumLayers);
        ConfigLimits.AtMost("\"num_layers\"", NumLayers, ConfigLimits.MaxLayers);
        Positive("relative_attention_max_distance", RelativeAttentionMaxDistance);
        if (RelativeAttentionNumBuckets < 4 || RelativeAttentionNumBuckets % 2 != 0)
            throw new InvalidDataException($"\"relative_attention_num_buckets\" must be even and at least 4, got {RelativeAttentionNumBuckets}");
        if (RelativeAttentionMaxDistance <= RelativeAttentionNumBuckets / 4)
            throw new InvalidDataException($"\"relative_attention_max_distance\" ({RelativeAttentionMaxDistance}) must exceed num_buckets / 4");
        if (!(LayerNormEpsilon > 0)) throw new InvalidDataException($"\"layer_norm_epsilon\" must be positive, got {LayerNormEpsilon}");
    }

    /// <summary>
    /// Bidirectional relative-position bucket of r = key − query (transformers' _relative_position_bucket).
    /// The logarithmic branch is evaluated exactly in integers: bucket = exact + the largest k ≤ half − 1 − exact
    /// with (n/exact)^(half−exact) ≥ (maxDistance/exact)^k, so no floating-point log can land on the wrong
    /// side of a boundary (n = 16, 32, 64 for T5's 32 buckets and distance 128). docs/t5.md §4.3.
    /// </summary>
    public static int RelativePositionBucket(int r, int numBuckets, int maxDistance)
    {
        int half = numBuckets / 2, exact = half / 2;
        int bucketBase = r > 0 ? half : 0;
        int n = Math.Abs(r);
        if (n < exact) return bucketBase + n;
        int steps = half - exact;
        var lhs = BigInteger.Pow(n, steps);   // compare n^steps · exact^k with maxDistance^k · exact^steps
        var exactPowSteps = BigInteger.Pow(exact, steps);
        int k = 0;
        while (k + 1 <= half - 1 - exact && lhs * BigInteger.Pow(exact, k + 1) >= BigInteger.Pow(maxDistance, k + 1) * exactPowSteps) k++;
        return bucketBase + exact + k;
    }

    /// <summary>The bucket of every (query i, key j) pair for a sequence of length L: [L, L].</summary>
    public int[] BucketTable(int length)
    {
        // Buckets depend only on j − i: compute the 2L − 1 distinct values once.
        var byOffset = new int[2 * length - 1];
        for (int r = -(length - 1); r <= length - 1; r++)
            byOffset[r + length - 1] = RelativePositionBucket(r, RelativeAttentionNumBuckets, RelativeAttentionMaxDistance);
        var table = new int[length * length];
        for (int i = 0; i < length; i++)
            for (int j = 0; j < length; j++)
                table[i * length + j] = byOffset[j - i + length - 1];
        return table;
    }

    /// <summary>The checkpoint keys and shapes of the encoder (docs/t5.md §3.2), without the embedding.</summary>
    public IEnumerable<(string name, long[] shape)> LayerKeys()
    {
        for (int i = 0; i < NumLayers; i++)
        {
            string p = $"encoder.block.{i}.layer.";
            yield return (p + "0.SelfAttention.q.weight", [InnerDim, DModel]);
            yield return (p + "0.SelfAttention.k.weight", [InnerDim, DModel]);
            yield return (p + "0.SelfAttention.v.weight", [InnerDim, DModel]);
            yield return (p + "0.SelfAttention.o.weight", [DModel, InnerDim]);
            if (i == 0) yield return (p + "0.SelfAttention.relative_attention_bias.weight", [RelativeAttentionNumBuckets, NumHeads]);
            yield return (p + "0.layer_norm.weight", [DModel]);
            if (IsGatedAct)
            {
                yield return (p + "1.DenseReluDense.wi_0.weight", [DFf, DModel]);
                yield return (p + "1.DenseReluDense.wi_1.weight", [DFf, DModel]);
            }
            else yield return (p + "1.DenseReluDense.wi.weight", [DFf, DModel]);
            yield return (p + "1.DenseReluDense.wo.weight", [DModel, DFf]);
            yield return (p + "1.layer_norm.weight", [DModel]);
        }
        yield return ("encoder.final_layer_norm.weight", [DModel]);
    }

    /// <summary>Every key the encoder reads from a checkpoint holding <paramref name="tensors"/>, with its shape: the
    /// layers and the input embedding under the first of <see cref="EmbeddingKeys"/> present.</summary>
    public List<(string name, long[] shape)> ExpectedKeys(IEnumerable<Weights.TensorInfo> tensors)
    {
        var names = tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        string embedding = EmbeddingKeys.FirstOrDefault(names.Contains)
            ?? throw new InvalidDataException($"T5 checkpoint has no input embedding (looked for {string.Join(", ", EmbeddingKeys)})");
        return LayerKeys().Append((embedding, [VocabSize, DModel])).ToList();
    }

    /// <summary>The names the tied input embedding may be stored under, in the order they are tried.</summary>
    public static readonly string[] EmbeddingKeys = ["shared.weight", "encoder.embed_tokens.weight"];
}
