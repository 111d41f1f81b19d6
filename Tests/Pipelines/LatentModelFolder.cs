using System.Text.Json.Nodes;
using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Vulkan;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Pipelines;

/// <summary>A tiny latent-space model folder (T5, PT-DiT with 4 channels, the tiny VAE with the released upsamplers,
/// whose 2 latent frames decode to 5) with random weights, and the weights it was written from.</summary>
public sealed record LatentModelFolder(string Dir, T5Config T5, Dictionary<string, HostTensor> T5Weights,
    PtDitConfig Transformer, Dictionary<string, HostTensor> TransformerWeights, VaeConfig Vae, Dictionary<string, HostTensor> VaeWeights) : IDisposable
{
    /// <summary>Writes the folder. <paramref name="latentRgb"/>: the preview projection in vae/config.json (null: fitted).</summary>
    public static LatentModelFolder Create(string dir, T5Config t5, DType t5Type, int size, int frames = 1, float[]? latentRgb = null, int seed = 5)
    {
        Directory.CreateDirectory(dir);
        var t5Weights = T5TestModel.RandomWeights(t5, t5Type, new Random(seed));
        T5TestModel.WriteFolder(Path.Combine(dir, "text_encoder"), t5, t5Weights, shards: 2);
        Directory.CreateDirectory(Path.Combine(dir, "tokenizer"));
        File.Copy(Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "t5", "spiece.model"), Path.Combine(dir, "tokenizer", "spiece.model"), true);

        var config = PtDitCase.Tiny([1, 2, 2], [1, 2, 2]) with { CaptionChannels = t5.DModel, InChannels = 4, OutChannels = 8 };
        var transformer = Path.Combine(dir, "transformer");
        Directory.CreateDirectory(transformer);
        File.WriteAllText(Path.Combine(transformer, "config.json"), config.ToJson());
        var ptdit = PtDitRandomCheckpoint.Create(config, (ulong)seed);
        TorchCheckpoint.Write(Path.Combine(transformer, "model.pt"), ptdit.Select(kv => (kv.Key, kv.Value)));

        var vae = VaeTestModel.Tiny;
        var vaeWeights = VaeTestModel.RandomWeights(vae, new Random(seed + 1));
        string vaeDir = VaeTestModel.WriteFolder(vae, vaeWeights, Path.Combine(dir, "vae"));
        if (latentRgb is not null)
        {
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(vaeDir, "config.json")))!;
            int n = vae.EmbedDim + 1;
            json["latent_rgb"] = new JsonArray(Enumerable.Range(0, 3).Select(r => (JsonNode)new JsonArray(latentRgb.Skip(n * r).Take(n).Select(v => (JsonNode)v).ToArray())).ToArray());
            File.WriteAllText(Path.Combine(vaeDir, "config.json"), json.ToJsonString());
        }

        File.WriteAllText(Path.Combine(dir, "model_index.json"), new JsonObject
        {
            ["pipeline_class"] = "QihooPipeline", ["name"] = "test-latent", ["space"] = "latent",
            ["input_size"] = new JsonArray(frames, size, size), ["model_max_length"] = 8, ["clean_caption"] = true, ["negative_prompt"] = "",
            ["transformer"] = "transformer", ["text_encoder"] = "text_encoder", ["tokenizer"] = "tokenizer", ["vae"] = "vae",
            ["diffusion"] = new JsonObject
            {
                ["model_id"] = "rflow", ["num_train_steps"] = 1000, ["use_timestep_transform"] = false, ["num_inference_steps"] = 2, ["cfg_scale"] = 4.0,
            },
        }.ToJsonString());
        return new LatentModelFolder(dir, t5, t5Weights, config, ptdit, vae, vaeWeights);
    }

    public void Dispose() { if (Directory.Exists(Dir)) Directory.Delete(Dir, true); }
}
