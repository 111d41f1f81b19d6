using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DType = T2X.Vulkan.DType;
using T2X.Vulkan.Files;
using T2X.Vulkan.Text;
using T2X.Vulkan.Weights;
using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>
/// Writes a trained model as a model folder the engine loads (layout: Engine/Pipelines/ModelFolder.md):
/// model_index.json, transformer/ (config.json + diffusion_pytorch_model.safetensors), text_encoder/ (Hugging Face
/// T5 config.json + model.safetensors), tokenizer/spiece.model. Weights are stored as float16.
/// </summary>
public static class Export
{
    public const string Name = "t2x-builtin-shapes";

    public static void Write(TextToImage model, string folder, int steps, double cfg, bool timestepTransform, double transformScale, string sampleMethod)
    {
        var c = model.Config;
        string temp = folder.TrimEnd('/') + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(Path.Combine(temp, "transformer"));
        Directory.CreateDirectory(Path.Combine(temp, "text_encoder"));
        Directory.CreateDirectory(Path.Combine(temp, "tokenizer"));

        WriteJson(Path.Combine(temp, "model_index.json"), new JsonObject
        {
            ["pipeline_class"] = "QihooPipeline",
            ["name"] = Name,
            ["space"] = "pixel", // no VAE: the sampler's result is the image, clamped to [-1, 1] and mapped to [0, 255]
            ["input_size"] = new JsonArray(1, c.ImageSize, c.ImageSize),
            ["model_max_length"] = c.MaxLength,
            ["clean_caption"] = true,
            ["negative_prompt"] = "",
            ["transformer"] = "transformer",
            ["text_encoder"] = "text_encoder",
            ["tokenizer"] = "tokenizer",
            ["vae"] = null,
            ["diffusion"] = new JsonObject
            {
                ["model_id"] = "rflow",
                ["num_train_steps"] = (int)RectifiedFlow.T,
                ["use_timestep_transform"] = timestepTransform,
                ["transform_scale"] = transformScale, // ratio = sqrt(H·W/512²)·transform_scale
                ["num_inference_steps"] = steps,
                ["cfg_scale"] = cfg,
                ["sample_method"] = sampleMethod, // how training times were drawn (informational; sampling does not use it)
            },
        });
        WriteJson(Path.Combine(temp, "transformer", "config.json"), new JsonObject
        {
            ["model_id"] = "ptdit",
            ["num_heads"] = c.NumHeads,
            ["head_dim"] = c.HeadDim,
            ["in_channels"] = c.InChannels,
            ["out_channels"] = c.OutChannels,
            ["num_layers"] = c.NumLayers,
            ["dropout"] = 0.0,
            ["cross_attention_dim"] = c.Width,
            ["attention_bias"] = true,
            ["sample_size"] = c.ImageSize,
            ["frame"] = 1,
            ["patch_size"] = c.PatchSize,
            ["activation_fn"] = "gelu-approximate",
            ["num_embeds_ada_norm"] = 1000,
            ["norm_type"] = "ada_norm_single",
            ["norm_elementwise_affine"] = false,
            ["norm_eps"] = 1e-6,
            ["caption_channels"] = c.TextWidth,
            ["compress_ratios"] = new JsonArray(1, c.Window, c.Window),
            ["proxy_compress_ratios"] = new JsonArray(1, c.Window, c.Window),
            ["shift_window"] = true,
            ["torch_dtype"] = "float16",
        });
        WriteJson(Path.Combine(temp, "text_encoder", "config.json"), new JsonObject
        {
            ["architectures"] = new JsonArray("T5EncoderModel"),
            ["model_type"] = "t5",
            ["vocab_size"] = Vocabulary.ExportedRows,
            ["d_model"] = c.TextWidth,
            ["d_kv"] = c.TextHeadDim,
            ["num_heads"] = c.TextHeads,
            ["d_ff"] = c.TextFeedForward,
            ["num_layers"] = c.TextLayers,
            ["relative_attention_num_buckets"] = T5Encoder.NumBuckets,
            ["relative_attention_max_distance"] = T5Encoder.MaxDistance,
            ["layer_norm_epsilon"] = 1e-6,
            ["feed_forward_proj"] = "gated-gelu",
            ["dense_act_fn"] = "gelu_new",
            ["is_gated_act"] = true,
            ["dropout_rate"] = 0.0,
            ["pad_token_id"] = Vocabulary.Pad,
            ["eos_token_id"] = Vocabulary.Eos,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = "float16",
        });
        HostTensors.WriteSafetensors(Path.Combine(temp, "transformer", "diffusion_pytorch_model.safetensors"), model.Transformer.state_dict(), DType.F16);
        HostTensors.WriteSafetensors(Path.Combine(temp, "text_encoder", "model.safetensors"), TextEncoderWeights(model.TextEncoder), DType.F16);
        Vocabulary.SentencePiece().Write(Path.Combine(temp, "tokenizer", "spiece.model"));

        if (Directory.Exists(folder)) Directory.Delete(folder, true);
        Directory.Move(temp, folder);
    }

    static Dictionary<string, Tensor> TextEncoderWeights(T5Encoder encoder)
    {
        var weights = encoder.state_dict();
        var shared = weights["shared.weight"];
        weights["shared.weight"] = cat([shared, zeros(Vocabulary.ExportedRows - shared.shape[0], shared.shape[1])], 0);
        return weights;
    }

    /// <summary>
    /// A check case for the engine's tests: one prompt's ids and mask, noisy pixels and a time, and what this
    /// trainer computes from them with the exported (float16-rounded) weights: the T5 states and the PT-DiT output.
    /// </summary>
    public static void WriteCheck(TextToImage model, string path)
    {
        using var noGrad = no_grad();
        foreach (var p in model.parameters()) p.copy_(p.to_type(ScalarType.Float16).to_type(ScalarType.Float32));
        const string prompt = "a red circle in the top left corner and a blue square at the bottom on a white background";
        var (ids, mask) = model.Tokenize([prompt]);
        var x = randn([1, model.Config.InChannels, model.Config.ImageSize, model.Config.ImageSize], generator: new Generator(5));
        var t = tensor(new[] { 700f });
        var text = model.TextEncoder.Forward(ids, mask);
        var output = model.Transformer.Forward(x, t, text, mask);
        SafeTensors.Write(path,
        [
            ("ids", HostTensors.Int64(ids)), ("mask", HostTensors.Tensor(mask, DType.F32)), ("x", HostTensors.Tensor(x, DType.F32)),
            ("t", HostTensors.Tensor(t, DType.F32)), ("text", HostTensors.Tensor(text, DType.F32)), ("out", HostTensors.Tensor(output, DType.F32)),
        ], new Dictionary<string, string> { ["prompt"] = prompt }, overwrite: true);   // the check case is rewritten with each export
    }

    static void WriteJson(string path, JsonNode node) =>
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n")));
}

/// <summary>TorchSharp tensors as the engine's host tensors, for its safetensors writer.</summary>
public static class HostTensors
{
    public static HostTensor Tensor(Tensor t, DType dtype)
    {
        var values = t.detach().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        return HostTensor.FromFloat32(values, t.shape).To(dtype);
    }

    public static HostTensor Int64(Tensor t) =>
        new(DType.I64, t.shape, t.to_type(ScalarType.Int64).contiguous().bytes.ToArray());

    public static void WriteSafetensors(string path, IDictionary<string, Tensor> weights, DType dtype) =>
        SafeTensors.Write(path, weights.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, Tensor(kv.Value, dtype))),
                          new Dictionary<string, string> { ["format"] = "pt" });
}
