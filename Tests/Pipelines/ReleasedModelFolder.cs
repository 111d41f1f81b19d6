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
/// A model folder in the released layout with random weights in the released shapes and formats, written tensor by
/// tensor (never the whole model in memory): text_encoder/ = T5-XXL fp16 as two safetensors shards with
/// model.safetensors.index.json (Hugging Face layout), transformer/ = PT-DiT's 1416 keys in bf16 as a torch.save zip,
/// vae/checkpoint.ckpt = a torch.save zip with the weights under "state_dict" (f32, plus encoder/loss entries the
/// decoder ignores). <paramref name="reduce"/> (2, 4, 8) divides the widths (T5 d_model, heads and d_ff, PT-DiT heads,
/// VAE hidden_size up to 4) and keeps every layer and key, for a quick check of the same path.
/// </summary>
public static class ReleasedModelFolder
{
    public static (T5Config t5, PtDitConfig transformer, VaeConfig vae) Configs(int reduce)
    {
        if (reduce is not (1 or 2 or 4 or 8)) throw new ArgumentException($"reduce must be 1, 2, 4 or 8 (PT-DiT keeps at least 2 of its 16 heads: its width must stay a multiple of 16), got {reduce}");
        var t5 = T5Config.Parse("""
            {"architectures": ["T5EncoderModel"], "d_ff": 10240, "d_kv": 64, "d_model": 4096, "dense_act_fn": "gelu_new",
             "feed_forward_proj": "gated-gelu", "is_gated_act": true, "layer_norm_epsilon": 1e-06, "model_type": "t5",
             "num_heads": 64, "num_layers": 24, "pad_token_id": 0, "eos_token_id": 1, "relative_attention_max_distance": 128,
             "relative_attention_num_buckets": 32, "torch_dtype": "float16", "vocab_size": 32128}
            """);
        t5 = t5 with { DModel = t5.DModel / reduce, NumHeads = t5.NumHeads / reduce, DFf = t5.DFf / reduce };
        var released = PtDitConfig.Released;
        var transformer = released with
        {
            NumHeads = released.NumHeads / reduce, CrossAttentionDim = released.NumHeads / reduce * released.HeadDim, CaptionChannels = t5.DModel,
        };
        var vae = VaeConfig.Released with { HiddenSize = VaeConfig.Released.HiddenSize / Math.Min(reduce, 4) };
        return (t5, transformer, vae);
    }

    /// <summary>Writes the folder; <paramref name="log"/> hears progress.</summary>
    public static void Write(string dir, int reduce, Action<string> log)
    {
        var (t5, transformer, vae) = Configs(reduce);
        Directory.CreateDirectory(dir);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        // T5: shared.weight, the blocks, the final norm; two shards split at the middle block, as save_pretrained splits by size.
        string te = Path.Combine(dir, "text_encoder");
        Directory.CreateDirectory(te);
        File.WriteAllText(Path.Combine(te, "config.json"), T5TestModel.ConfigJson(t5));
        var t5Keys = new[] { ("shared.weight", new long[] { t5.VocabSize, t5.DModel }) }.Concat(t5.LayerKeys()).ToList();
        int half = t5Keys.FindIndex(k => k.Item1.StartsWith($"encoder.block.{t5.NumLayers / 2}."));
        var shards = new[] { t5Keys[..half], t5Keys[half..] };
        var map = new JsonObject();
        long total = 0;
        for (int s = 0; s < 2; s++)
        {
            string file = $"model-{s + 1:D5}-of-00002.safetensors";
            var infos = shards[s].Select(k => new TensorInfo(k.Item1, DType.F16, k.Item2)).ToList();
            SafeTensors.Write(Path.Combine(te, file), infos, info => Random(info, T5Scale(info.Name, info.Shape)));
            foreach (var i in infos) { map[i.Name] = file; total += i.Elements * 2; }
        }
        File.WriteAllText(Path.Combine(te, "model.safetensors.index.json"),
            new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = map }.ToJsonString());
        string tok = Path.Combine(dir, "tokenizer");
        Directory.CreateDirectory(tok);
        File.Copy(Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "t5", "spiece.model"), Path.Combine(tok, "spiece.model"), true);
        log($"text_encoder/: {t5Keys.Count} tensors fp16, {total / 1e9:F2} GB in {clock.Elapsed.TotalSeconds:F0} s");

        // PT-DiT: every released key in bf16, one torch.save zip.
        clock.Restart();
        string tr = Path.Combine(dir, "transformer");
        Directory.CreateDirectory(tr);
        File.WriteAllText(Path.Combine(tr, "config.json"), transformer.ToJson());
        var ptKeys = PtDitKeys.Expected(transformer).Select(k => new TensorInfo(k.Name, DType.BF16, k.Shape)).ToList();   // with pos_embed.pos_embed
        TorchCheckpoint.Write(Path.Combine(tr, "model.pt"), ptKeys, info => Random(info, PtDitScale(info.Name, info.Shape)));
        log($"transformer/: {ptKeys.Count} tensors bf16, {ptKeys.Sum(k => k.Elements) * 2 / 1e9:F2} GB in {clock.Elapsed.TotalSeconds:F0} s");

        // VAE: checkpoint.ckpt with state_dict = decoder + post_quant_conv (f32) and entries the decoder must skip.
        clock.Restart();
        string va = Path.Combine(dir, "vae");
        Directory.CreateDirectory(va);
        File.WriteAllText(Path.Combine(va, "config.json"), VaeTestModel.ConfigJson(vae));
        var vaeKeys = vae.Keys().Select(k => new TensorInfo(k.name, DType.F32, k.shape))
            .Append(new TensorInfo("encoder.conv_in.conv.bias", DType.F32, [vae.HiddenSize]))
            .Append(new TensorInfo("loss.logvar", DType.F32, [1])).ToList();
        TorchCheckpoint.Write(Path.Combine(va, "checkpoint.ckpt"), vaeKeys, info => Random(info, VaeScale(info.Name, info.Shape)), wrapper: "state_dict");
        log($"vae/: {vaeKeys.Count} tensors f32 in {clock.Elapsed.TotalSeconds:F0} s");

        File.WriteAllText(Path.Combine(dir, "model_index.json"), new JsonObject
        {
            ["pipeline_class"] = "QihooPipeline", ["name"] = reduce == 1 ? "released-shapes-random" : $"released-shapes-random-reduced-{reduce}",
            ["space"] = "latent", ["input_size"] = new JsonArray(1, 1024, 1024), ["model_max_length"] = 200, ["clean_caption"] = true,
            ["negative_prompt"] = "", ["transformer"] = "transformer", ["text_encoder"] = "text_encoder", ["tokenizer"] = "tokenizer", ["vae"] = "vae",
            ["diffusion"] = new JsonObject
            {
                ["model_id"] = "rflow", ["num_train_steps"] = 1000, ["use_timestep_transform"] = true, ["num_inference_steps"] = 30, ["cfg_scale"] = 4.0,
            },
        }.ToJsonString());
    }

    /// <summary>(std, mean) of a weight so activations stay of order one: 1/√fan-in for matrices, ~1 for norm gains.</summary>
    static (double std, double mean) T5Scale(string name, long[] shape) =>
        name.EndsWith("layer_norm.weight") ? (0.1, 1) : name.Contains("relative_attention_bias") || name == "shared.weight" ? (1, 0) : (1 / Math.Sqrt(shape[1]), 0);

    static (double, double) PtDitScale(string name, long[] shape) =>
        name.EndsWith("scale_shift_table") ? (0.5, 0)
        : name == PtDitKeys.PosEmbedBuffer ? (0.5, 0)
        : name.EndsWith(".weight") && shape.Length == 1 ? (0.1, 1)
        : name.EndsWith(".weight") ? (1 / Math.Sqrt(shape[1] * (shape.Length == 4 ? shape[2] * shape[3] : 1)), 0)
        : (0.1, 0);

    static (double, double) VaeScale(string name, long[] shape) =>
        shape.Length == 5 ? (1 / Math.Sqrt(shape[1] * shape[2] * shape[3] * shape[4]), 0) : name.EndsWith(".conv.bias") ? (0.1, 0)
        : name.EndsWith(".weight") ? (0.1, 1) : (0.1, 0);

    /// <summary>Uniform values with the given std and mean (cheap: xorshift, no Gaussian needed for shape runs),
    /// seeded by the name so a rerun writes the same bytes.</summary>
    static HostTensor Random(TensorInfo info, (double std, double mean) scale)
    {
        var v = new float[info.Elements];
        ulong x = 0xCBF29CE484222325UL;   // FNV-1a of the name: stable across processes
        foreach (char ch in info.Name) x = (x ^ ch) * 0x100000001B3UL;
        if (x == 0) x = 1;
        double a = scale.std * Math.Sqrt(3) * 2 / (1UL << 24);
        for (long i = 0; i < v.Length; i++)
        {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            v[i] = (float)(((long)(x >> 40) - (1L << 23)) * a + scale.mean);
        }
        return HostTensor.FromFloat32(v, info.Shape).To(info.DType);
    }
}
