using System.Text.Json.Nodes;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Models;

/// <summary>Tiny random VAE decoders with the released block structure, in the official key layout, as vae/ folders.</summary>
public static class VaeTestModel
{
    /// <summary>Widths 8, 16, 32, 32 (4 groups), 3 res blocks per level, the released upsamplers; tiles of 4 latents
    /// (overlap 0.25: stride 3, blend 8 px, keep 24 px = 3 latents, consistent as the released 56/64/448) and time
    /// chunks of 3 latent frames.</summary>
    public static VaeConfig Tiny => new()
    {
        HiddenSize = 8, NormNumGroups = 4, TileSampleMinSize = 32, TileOverlapFactor = 0.25, TileLatentMinSizeT = 3,
    };

    public static Dictionary<string, HostTensor> RandomWeights(VaeConfig c, Random rng)
    {
        var w = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        HostTensor Rand(double scale, double mean, long[] shape)
        {
            var v = Check.Randn(rng, shape.Aggregate(1L, (a, b) => a * b), scale);
            for (int i = 0; i < v.Length; i++) v[i] += (float)mean;
            return HostTensor.FromFloat32(v, shape);
        }
        foreach (var (name, shape) in c.Keys())
            w[name] = shape.Length == 5 ? Rand(1 / Math.Sqrt(shape[1] * shape[2] * shape[3] * shape[4]), 0, shape)
                    : name.EndsWith(".conv.bias") ? Rand(0.1, 0, shape)
                    : name.EndsWith(".weight") ? Rand(0.1, 1, shape)
                    : Rand(0.1, 0, shape);
        return w;
    }

    public static string ConfigJson(VaeConfig c) => new JsonObject
    {
        ["hidden_size"] = c.HiddenSize,
        ["hidden_size_mult"] = new JsonArray(c.HiddenSizeMult.Select(m => (JsonNode)m).ToArray()),
        ["z_channels"] = c.ZChannels, ["embed_dim"] = c.EmbedDim, ["num_res_blocks"] = c.NumResBlocks,
        ["attn_resolutions"] = new JsonArray(),
        ["decoder_spatial_upsample"] = new JsonArray(c.DecoderSpatialUpsample.Select(u => (JsonNode)u).ToArray()),
        ["decoder_temporal_upsample"] = new JsonArray(c.DecoderTemporalUpsample.Select(u => (JsonNode)u).ToArray()),
        ["use_tiling"] = c.UseTiling, ["tile_sample_min_size"] = c.TileSampleMinSize,
        ["tile_latent_min_size"] = c.TileLatentMinSize, ["tile_latent_min_size_t"] = c.TileLatentMinSizeT,
        ["tile_overlap_factor"] = c.TileOverlapFactor, ["norm_num_groups"] = c.NormNumGroups,
    }.ToJsonString();

    /// <summary>Writes config.json and the weights (plus an encoder tensor the decoder must ignore) into a new folder.</summary>
    public static string WriteFolder(VaeConfig c, Dictionary<string, HostTensor> weights, string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), ConfigJson(c));
        var all = weights.Select(kv => (kv.Key, kv.Value)).Append(("encoder.conv_in.conv.bias", HostTensor.FromFloat32([1f, 2f], 2)));
        SafeTensors.Write(Path.Combine(dir, "model.safetensors"), all);
        return dir;
    }
}
