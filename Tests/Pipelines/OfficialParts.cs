using System.Text.Json.Nodes;
using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Vulkan;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Pipelines;

/// <summary>
/// The parts of a release as they are downloaded (README, "Run the released Qihoo-T2I model"), at tiny widths but in the
/// released key layout and file formats: the PT-DiT checkpoint as one torch.save zip .pt with the official keys in bf16;
/// a Hugging Face T5 encoder folder with fp16 weights in two safetensors shards and model.safetensors.index.json; a
/// tokenizer folder; the Open-Sora-Plan VAE folder with its own config.json (CausalVAEModel keys, with Open-Sora-Plan's
/// tiling defaults, which the inference config's "ae" section overrides) and checkpoint.ckpt holding the weights under
/// "state_dict" beside encoder and loss entries; and an inference config shaped as inference_model_image.json.
/// Only the widths differ from the release (and norm_num_groups, which the tiny VAE needs).
/// </summary>
public sealed record OfficialParts(string Root, PtDitConfig Transformer, T5Config T5, VaeConfig Vae)
{
    public const int Size = 32;   // pixels: latents 4 x 4
    public const int Steps = 2;

    public string TransformerFile => Path.Combine(Root, "Qihoo-T2X", "qihoo_t2i_tiny.pt");
    public string TextEncoder => Path.Combine(Root, "EasyAnimateV2-XL-2-512x512", "text_encoder");
    public string Tokenizer => Path.Combine(Root, "EasyAnimateV2-XL-2-512x512", "tokenizer");
    public string VaeDir => Path.Combine(Root, "Open-Sora-Plan-v1.2.0", "vae");
    public string Config => Path.Combine(Root, "inference_model_image.json");

    /// <summary>`t2x import` of these parts into <paramref name="output"/>, with the inference config.</summary>
    public string[] ImportArgs(string output, params string[] more) =>
        ["import", "--transformer", TransformerFile, "--text-encoder", TextEncoder, "--tokenizer", Tokenizer, "--vae", VaeDir,
         "--config", Config, "--output", output, .. more];

    public static OfficialParts Write(string root, int seed = 3)
    {
        var t5 = T5TestModel.Tiny(layers: 1) with { VocabSize = 512 };
        var transformer = PtDitCase.Tiny([1, 2, 2], [1, 2, 2]) with { CaptionChannels = t5.DModel, InChannels = 4, OutChannels = 8 };
        var vae = VaeTestModel.Tiny;
        var parts = new OfficialParts(root, transformer, t5, vae);

        Directory.CreateDirectory(Path.GetDirectoryName(parts.TransformerFile)!);
        TorchCheckpoint.Write(parts.TransformerFile,
            PtDitRandomCheckpoint.Create(transformer, (ulong)seed, DType.BF16, PositionBuffer.Random).Select(kv => (kv.Key, kv.Value)));

        WriteTextEncoder(parts.TextEncoder, t5, seed);
        Directory.CreateDirectory(parts.Tokenizer);
        File.Copy(Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "t5", "spiece.model"), Path.Combine(parts.Tokenizer, "spiece.model"));
        File.WriteAllText(Path.Combine(parts.Tokenizer, "special_tokens_map.json"), """{"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}""");

        WriteVae(parts.VaeDir, vae, seed);

        File.WriteAllText(parts.Config, new JsonObject
        {
            ["ae"] = new JsonObject
            {
                ["model_id"] = "casualvae", ["from_pretrained"] = "./pretrain_models/opensoraplan_vae1_2/checkpoint.ckpt", ["dtype"] = "bf16", ["output_dtype"] = "bf16",
                ["decoder_spatial_upsample"] = new JsonArray("", "SpatialUpsample2x", "Spatial2xTime2x3DUpsample", "Spatial2xTime2x3DUpsample"),
                ["decoder_temporal_upsample"] = new JsonArray("", "", "", ""),
                ["encoder_conv_in"] = "Conv2d",
                ["use_tiling"] = true, ["tile_overlap_factor"] = vae.TileOverlapFactor, ["vae_scale_factor"] = new JsonArray(4, 8, 8),
                ["tile_sample_min_size"] = vae.TileSampleMinSize, ["tile_latent_min_size"] = vae.TileLatentMinSize,
                ["tile_sample_min_size_t"] = 29, ["tile_latent_min_size_t"] = vae.TileLatentMinSizeT,
            },
            ["text_encoder"] = new JsonObject { ["hub_backend"] = "hf", ["model_id"] = "T5", ["from_pretrained"] = "./pretrain_models/text_encoder", ["dtype"] = "fp32" },
            ["tokenizer"] = new JsonObject { ["hub_backend"] = "hf", ["autotokenizer_name"] = "AutoTokenizer", ["from_pretrained"] = "./pretrain_models/tokenizer" },
            ["predictor"] = PredictorJson(transformer),
            ["diffusion"] = new JsonObject
            {
                ["model_id"] = "rflow", ["use_timestep_transform"] = true, ["num_inference_steps"] = Steps, ["cfg_scale"] = 4.0, ["sample_method"] = "logit-normal",
            },
            ["pipeline_config"] = new JsonObject { ["use_attention_mask"] = true, ["use_y_embedder"] = false, ["input_size"] = new JsonArray(1, Size, Size) },
            ["frame_interval"] = 1, ["model_max_length"] = 8, ["save_path"] = "./samples/test/image/", ["fps"] = 24,
            ["prompt"] = "examples/qihoo_t2x/demo.txt", ["pipeline_class"] = "QihooPipeline", ["device"] = "npu", ["dtype"] = "bf16",
        }.ToJsonString());
        return parts;
    }

    /// <summary>The official "predictor" section: the model's keys plus the run keys the engine ignores.</summary>
    static JsonObject PredictorJson(PtDitConfig c)
    {
        var p = JsonNode.Parse(c.ToJson())!.AsObject();
        p["dtype"] = "bf16";
        p["model_id"] = "ptdit";
        p["dropout"] = 0.0;
        p["norm_num_groups"] = 32;
        p["num_embeds_ada_norm"] = 1000;
        p["upcast_attention"] = false;
        p["attention_type"] = "default";
        p["from_pretrained"] = "./pretrain_models/XXX.pt";
        return p;
    }

    /// <summary>A Hugging Face T5 encoder folder: fp16, two shards and their index.</summary>
    public static void WriteTextEncoder(string dir, T5Config t5, int seed) =>
        T5TestModel.WriteFolder(dir, t5, T5TestModel.RandomWeights(t5, DType.F16, new Random(seed)), shards: 2);

    /// <summary>The Open-Sora-Plan VAE folder: its config.json (with Open-Sora-Plan's own tiling defaults) and
    /// checkpoint.ckpt with everything under "state_dict".</summary>
    public static void WriteVae(string dir, VaeConfig vae, int seed)
    {
        Directory.CreateDirectory(dir);
        var config = JsonNode.Parse(VaeTestModel.ConfigJson(vae))!.AsObject();
        config["_class_name"] = "CausalVAEModel";
        config["decoder_attention"] = "AttnBlock3DFix";
        config["use_tiling"] = false;
        config["tile_sample_min_size"] = 256;
        config["tile_latent_min_size"] = 32;
        config["tile_latent_min_size_t"] = 16;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        var weights = VaeTestModel.RandomWeights(vae, new Random(seed + 1)).Select(kv => (kv.Key, kv.Value))
            .Append(("encoder.conv_in.conv.bias", HostTensor.FromFloat32(new float[vae.HiddenSize], vae.HiddenSize)))
            .Append(("loss.logvar", HostTensor.FromFloat32([0f], 1)));
        TorchCheckpoint.Write(Path.Combine(dir, "checkpoint.ckpt"), weights, wrapper: "state_dict");
    }
}
