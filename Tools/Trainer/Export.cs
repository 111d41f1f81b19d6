using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>
/// Writes a trained model as a model folder the engine loads (layout: docs/model-folder.md):
/// model_index.json, transformer/ (config.json + diffusion_pytorch_model.safetensors), text_encoder/ (Hugging Face
/// T5 config.json + model.safetensors), tokenizer/spiece.model. Weights are stored as float16.
/// </summary>
public static class Export
{
    public const string Name = "t2x-builtin-shapes";

    public static void Write(TextToImage model, string folder, int steps, double cfg)
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
                ["use_timestep_transform"] = false,
                ["num_inference_steps"] = steps,
                ["cfg_scale"] = cfg,
                ["sample_method"] = "logit-normal",
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
            ["vocab_size"] = ExportedVocabSize,
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
            ["pad_token_id"] = GrammarTokenizer.Pad,
            ["eos_token_id"] = GrammarTokenizer.Eos,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = "float16",
        });
        Safetensors.Write(Path.Combine(temp, "transformer", "diffusion_pytorch_model.safetensors"), model.Transformer.state_dict());
        Safetensors.Write(Path.Combine(temp, "text_encoder", "model.safetensors"), TextEncoderWeights(model.TextEncoder));
        File.WriteAllBytes(Path.Combine(temp, "tokenizer", "spiece.model"), SpieceModel.Build());

        if (Directory.Exists(folder)) Directory.Delete(folder, true);
        Directory.Move(temp, folder);
    }

    /// <summary>Embedding rows as T5 files have them: the pieces plus the 100 sentinels &lt;extra_id_N&gt; that a T5
    /// tokenizer appends, rounded up to a multiple of 128 (32128 in the release). The rows past the trained ones are
    /// zero: no cleaned prompt produces a sentinel.</summary>
    public static int ExportedVocabSize => (GrammarTokenizer.Pieces.Length + 100 + 127) / 128 * 128;

    static Dictionary<string, Tensor> TextEncoderWeights(T5Encoder encoder)
    {
        var weights = encoder.state_dict();
        var shared = weights["shared.weight"];
        weights["shared.weight"] = cat([shared, zeros(ExportedVocabSize - shared.shape[0], shared.shape[1])], 0);
        return weights;
    }

    static void WriteJson(string path, JsonNode node) =>
        File.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}

/// <summary>Minimal safetensors writer (float16 tensors, keys sorted). To be replaced by the engine's writer (Engine/Weights) once merged.</summary>
public static class Safetensors
{
    public static void Write(string path, IDictionary<string, Tensor> weights)
    {
        var tensors = weights.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (kv.Key, Shape: kv.Value.shape, Bytes: kv.Value.detach().to_type(ScalarType.Float16).contiguous().bytes.ToArray()))
            .ToList();
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, shape, bytes) in tensors)
        {
            header[name] = new JsonObject
            {
                ["dtype"] = "F16",
                ["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            offset += bytes.Length;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        file.Write(BitConverter.GetBytes((ulong)padded));
        file.Write(json);
        for (int i = json.Length; i < padded; i++) file.WriteByte((byte)' ');
        foreach (var t in tensors) file.Write(t.Bytes);
    }
}

/// <summary>
/// The tokenizer as a SentencePiece Unigram model (sentencepiece_model.proto): &lt;pad&gt;=0, &lt;/s&gt;=1, &lt;unk&gt;=2
/// (T5's specials), then "▁word" for each grammar word. No normalization rules beyond whitespace handling.
/// Minimal protobuf writer; to be replaced by the engine's SentencePieceModel writer once merged.
/// </summary>
public static class SpieceModel
{
    public static byte[] Build()
    {
        var model = new List<byte>();
        for (int i = 0; i < GrammarTokenizer.Pieces.Length; i++)
        {
            var piece = new List<byte>();
            String(piece, 1, GrammarTokenizer.Pieces[i]);
            Key(piece, 2, 5); piece.AddRange(BitConverter.GetBytes(i < 3 ? 0f : -1f)); // every word equally likely
            int type = i == GrammarTokenizer.Unk ? 2 : i < 3 ? 3 : 1;                   // UNKNOWN, CONTROL, NORMAL
            if (type != 1) Varint(piece, 3, type);
            Message(model, 1, piece);
        }
        var trainer = new List<byte>();
        Varint(trainer, 3, 1);                                  // model_type UNIGRAM
        Varint(trainer, 4, GrammarTokenizer.Pieces.Length);     // vocab_size
        Varint(trainer, 40, GrammarTokenizer.Unk);
        Varint(trainer, 41, -1);                                // no BOS
        Varint(trainer, 42, GrammarTokenizer.Eos);
        Varint(trainer, 43, GrammarTokenizer.Pad);
        Message(model, 2, trainer);
        var normalizer = new List<byte>();
        String(normalizer, 1, "identity");
        Varint(normalizer, 3, 1);                               // add_dummy_prefix
        Varint(normalizer, 4, 1);                               // remove_extra_whitespaces
        Varint(normalizer, 5, 1);                               // escape_whitespaces
        Message(model, 3, normalizer);
        return [.. model];
    }

    static void Key(List<byte> o, int field, int wire) => RawVarint(o, ((ulong)field << 3) | (uint)wire);
    static void Varint(List<byte> o, int field, long v) { Key(o, field, 0); RawVarint(o, (ulong)v); }
    static void String(List<byte> o, int field, string s) => Message(o, field, [.. Encoding.UTF8.GetBytes(s)]);
    static void Message(List<byte> o, int field, List<byte> m) { Key(o, field, 2); RawVarint(o, (ulong)m.Count); o.AddRange(m); }
    static void RawVarint(List<byte> o, ulong v)
    {
        while (v >= 0x80) { o.Add((byte)(v | 0x80)); v >>= 7; }
        o.Add((byte)v);
    }
}
