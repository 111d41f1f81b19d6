using System.Runtime.InteropServices;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Text;
using T2X.Vulkan.Weights;

namespace T2X.Host.Commands;

/// <summary>
/// t2x encode: the T5 encoder on token ids, or the whole text side on a prompt.
///   --text-encoder DIR --inputs IN.safetensors --output OUT.safetensors [--force]
///       IN: input_ids and attention_mask, int64 [B, L]; OUT: last_hidden_state float32 [B, L, d_model].
///   --text-encoder DIR --tokenizer DIR --prompt TEXT [--negative-prompt TEXT] [--max-length 200] [--no-clean] --output OUT
///       the pipeline's [prompt; negative prompt] batch: OUT holds last_hidden_state [2, L, d_model], input_ids and
///       attention_mask [2, L]. The prompt goes through the caption cleaner unless --no-clean.
/// </summary>
public static class EncodeCommand
{
    public static int Run(Args a)
    {
        string encoderDir = a.Require("text-encoder");
        string? inputs = a.Option("inputs");
        string? tokenizerDir = a.Option("tokenizer");
        string? prompt = a.Option("prompt");
        string negative = a.Option("negative-prompt") ?? "";
        int maxLength = a.Int("max-length", 200, 1, T5Tokenizer.MaxTokens);
        bool noClean = a.Flag("no-clean");
        string output = a.Require("output");
        bool force = a.Flag("force");
        string? device = a.Option("device");
        a.Done();
        if ((inputs is null) == (prompt is null)) throw new UsageException("give either --inputs IN.safetensors or --prompt TEXT (with --tokenizer DIR)");
        if (prompt is not null && tokenizerDir is null) throw new UsageException("--prompt needs --tokenizer DIR");
        AtomicFile.Check(output, force);

        long[] ids, mask;
        int batch, length;
        T5Tokenizer? tokenizer = null;
        if (inputs is not null)
            (ids, mask, batch, length) = ReadInputs(inputs);
        else
        {
            tokenizer = T5Tokenizer.FromFolder(tokenizerDir!);
            ids = mask = [];
            batch = 2;
            length = maxLength;
        }

        using var gpu = new Gpu(new GpuOptions { Device = device });
        using var encoder = T5Encoder.Load(gpu, encoderDir);
        var d = encoder.Config.DModel;
        if (tokenizer is null)
        {
            float[] hidden;
            using (var y = encoder.Encode(ids, mask, batch, length)) hidden = y.ToArray();
            Finite.Require(hidden, "the encoder's 'last_hidden_state' (not written: are its weights broken?)");
            SafeTensors.Write(output, [("last_hidden_state", HostTensor.FromFloat32(hidden, batch, length, d))], overwrite: force);
            return 0;
        }
        using var text = TextConditioning.Encode(tokenizer, encoder, [prompt!], negative, maxLength, cleanCaption: !noClean, releaseEncoder: true,
            encodePadding: true);   // every position, as transformers' last_hidden_state has it
        var embeddings = text.Embeddings.ToArray();
        Finite.Require(embeddings, "the encoder's 'last_hidden_state' (not written: are its weights broken?)");
        SafeTensors.Write(output,
        [
            ("last_hidden_state", HostTensor.FromFloat32(embeddings, batch, length, d)),
            ("input_ids", TokenizeCommand.Int64(text.Tokens.InputIds, batch, length)),
            ("attention_mask", TokenizeCommand.Int64(text.Tokens.AttentionMask, batch, length)),
        ], overwrite: force);
        return 0;
    }

    static (long[] ids, long[] mask, int batch, int length) ReadInputs(string path)
    {
        using var file = SafeTensors.Open(path);
        long[] Read(string name)
        {
            var info = file.Tensors.FirstOrDefault(t => t.Name == name)
                ?? throw new InvalidDataException($"{path}: no tensor '{name}' (expected input_ids and attention_mask, int64 [B, L])");
            if (info.DType != DType.I64 || info.Shape.Length != 2)
                throw new InvalidDataException($"{path}: '{name}' is {info.DType} [{string.Join(", ", info.Shape)}]; expected int64 [B, L]");
            return MemoryMarshal.Cast<byte, long>(file.Read(name).Bytes).ToArray();
        }
        var ids = Read("input_ids");
        var mask = Read("attention_mask");
        var idShape = file.Tensors.First(t => t.Name == "input_ids").Shape;
        var maskShape = file.Tensors.First(t => t.Name == "attention_mask").Shape;
        if (!idShape.SequenceEqual(maskShape))
            throw new InvalidDataException($"{path}: input_ids [{string.Join(", ", idShape)}] and attention_mask [{string.Join(", ", maskShape)}] differ in shape");
        if (idShape[0] < 1 || idShape[1] < 1) throw new InvalidDataException($"{path}: input_ids is empty [{string.Join(", ", idShape)}]");
        return (ids, mask, checked((int)idShape[0]), checked((int)idShape[1]));
    }
}
