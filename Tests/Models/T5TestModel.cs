using System.Text.Json.Nodes;
using T2X.Vulkan;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Models;

/// <summary>Tiny random T5 encoders in the Hugging Face key layout, written as model folders.</summary>
public static class T5TestModel
{
    public enum EmbeddingAs { Shared, EmbedTokens, Both }

    public static T5Config Tiny(bool gated = true, string act = "gelu_new", int layers = 2) => new()
    {
        VocabSize = 37, DModel = 24, DKv = 8, NumHeads = 3, DFf = 40, NumLayers = layers,
        RelativeAttentionNumBuckets = 32, RelativeAttentionMaxDistance = 128, LayerNormEpsilon = 1e-6,
        FeedForwardProj = gated ? "gated-" + (act == "gelu_new" ? "gelu" : act) : act, DenseActFn = act, IsGatedAct = gated,
    };

    /// <summary>Random weights (every tensor random, rounded to <paramref name="dtype"/>) for a config.</summary>
    public static Dictionary<string, HostTensor> RandomWeights(T5Config c, DType dtype, Random rng, EmbeddingAs embedding = EmbeddingAs.Shared)
    {
        var w = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        HostTensor Rand(double scale, double mean, params long[] shape)
        {
            var v = Check.Randn(rng, shape.Aggregate(1L, (a, b) => a * b), scale);
            for (int i = 0; i < v.Length; i++) v[i] += (float)mean;
            return HostTensor.FromFloat32(v, shape).To(dtype);
        }
        var table = Rand(1.0, 0, c.VocabSize, c.DModel);
        if (embedding != EmbeddingAs.EmbedTokens) w["shared.weight"] = table;
        if (embedding != EmbeddingAs.Shared) w["encoder.embed_tokens.weight"] = table;
        foreach (var (name, shape) in c.LayerKeys())
        {
            w[name] = name switch
            {
                _ when name.EndsWith("layer_norm.weight") => Rand(0.2, 1.0, shape),
                _ when name.Contains("relative_attention_bias") => Rand(1.0, 0, shape),
                _ => Rand(1.0 / Math.Sqrt(shape[1]), 0, shape),
            };
        }
        return w;
    }

    public static string ConfigJson(T5Config c) => new JsonObject
    {
        ["architectures"] = new JsonArray("T5EncoderModel"), ["model_type"] = "t5",
        ["vocab_size"] = c.VocabSize, ["d_model"] = c.DModel, ["d_kv"] = c.DKv, ["num_heads"] = c.NumHeads, ["d_ff"] = c.DFf,
        ["num_layers"] = c.NumLayers, ["num_decoder_layers"] = c.NumLayers,
        ["relative_attention_num_buckets"] = c.RelativeAttentionNumBuckets, ["relative_attention_max_distance"] = c.RelativeAttentionMaxDistance,
        ["layer_norm_epsilon"] = c.LayerNormEpsilon, ["feed_forward_proj"] = c.FeedForwardProj, ["dense_act_fn"] = c.DenseActFn,
        ["is_gated_act"] = c.IsGatedAct, ["pad_token_id"] = 0, ["eos_token_id"] = 1, ["dropout_rate"] = 0.1, ["torch_dtype"] = "float16",
    }.ToJsonString();

    /// <summary>Writes config.json and the weights: one model.safetensors, or <paramref name="shards"/> shards
    /// named as the released folder names them, with model.safetensors.index.json, or a pytorch_model.bin.</summary>
    public static void WriteFolder(string dir, T5Config c, Dictionary<string, HostTensor> weights, int shards = 1, bool pytorch = false)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), ConfigJson(c));
        var list = weights.Select(kv => (kv.Key, kv.Value)).ToList();
        if (pytorch)
        {
            TorchCheckpoint.Write(Path.Combine(dir, "pytorch_model.bin"), list);
            return;
        }
        if (shards == 1)
        {
            SafeTensors.Write(Path.Combine(dir, "model.safetensors"), list);
            return;
        }
        var map = new JsonObject();
        long total = 0;
        for (int s = 0; s < shards; s++)
        {
            string file = $"model.fp16-{s + 1:D5}-of-{shards:D5}.safetensors";
            var part = list.Where((_, i) => i % shards == s).ToList();
            SafeTensors.Write(Path.Combine(dir, file), part);
            foreach (var (name, t) in part) { map[name] = file; total += t.Bytes.Length; }
        }
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
            new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = map }.ToJsonString());
    }

    /// <summary>Ids and masks of a padded batch: row r has validLengths[r] tokens (ids ≥ 2, EOS last), then padding.</summary>
    public static (long[] ids, long[] mask) Batch(Random rng, int vocab, int length, params int[] validLengths)
    {
        var ids = new long[validLengths.Length * length];
        var mask = new long[ids.Length];
        for (int r = 0; r < validLengths.Length; r++)
            for (int t = 0; t < validLengths[r]; t++)
            {
                ids[r * length + t] = t == validLengths[r] - 1 ? 1 : rng.Next(2, vocab);
                mask[r * length + t] = 1;
            }
        return (ids, mask);
    }
}
