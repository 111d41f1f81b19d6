using System.Text.Json.Nodes;
using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Vulkan;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Pipelines;

/// <summary>A tiny pixel-space model folder with random weights in the layout of Engine/Pipelines/ModelFolder.md.</summary>
public static class TestModelFolder
{
    public const int Size = 16;

    public static string Create(string dir, ulong seed = 5)
    {
        Directory.CreateDirectory(dir);
        var t5 = T5TestModel.Tiny(layers: 1) with { VocabSize = 512 };
        T5TestModel.WriteFolder(Path.Combine(dir, "text_encoder"), t5, T5TestModel.RandomWeights(t5, DType.F32, new Random((int)seed)));
        Directory.CreateDirectory(Path.Combine(dir, "tokenizer"));
        File.Copy(Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "t5", "spiece.model"), Path.Combine(dir, "tokenizer", "spiece.model"), true);

        var config = PtDitCase.Tiny([1, 2, 2], [1, 2, 2]) with { CaptionChannels = t5.DModel };
        var transformer = Path.Combine(dir, "transformer");
        Directory.CreateDirectory(transformer);
        File.WriteAllText(Path.Combine(transformer, "config.json"), config.ToJson());
        SafeTensors.Write(Path.Combine(transformer, "diffusion_pytorch_model.safetensors"),
            PtDitRandomCheckpoint.Create(config, seed).Select(kv => (kv.Key, kv.Value)));

        File.WriteAllText(Path.Combine(dir, "model_index.json"), new JsonObject
        {
            ["pipeline_class"] = "QihooPipeline", ["name"] = "test-tiny", ["space"] = "pixel",
            ["input_size"] = new JsonArray(1, Size, Size), ["model_max_length"] = 8, ["clean_caption"] = true, ["negative_prompt"] = "",
            ["transformer"] = "transformer", ["text_encoder"] = "text_encoder", ["tokenizer"] = "tokenizer", ["vae"] = null,
            ["diffusion"] = new JsonObject
            {
                ["model_id"] = "rflow", ["num_train_steps"] = 1000, ["use_timestep_transform"] = false, ["num_inference_steps"] = 3, ["cfg_scale"] = 4.0,
            },
        }.ToJsonString());
        return dir;
    }
}
