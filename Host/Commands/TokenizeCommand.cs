using System.Runtime.InteropServices;
using System.Text.Json;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Text;
using T2X.Vulkan.Weights;

namespace T2X.Host.Commands;

/// <summary>t2x tokenize --tokenizer DIR --prompts PROMPTS.json --max-length N [--clean] --output OUT.safetensors [--force]:
/// the T5 tokenizer (Hugging Face T5TokenizerFast contract) on a JSON array of strings; writes input_ids and
/// attention_mask, int64 [count, N]. --clean runs the caption cleaner first, as generation does.</summary>
public static class TokenizeCommand
{
    public static int Run(Args a)
    {
        string folder = a.Require("tokenizer");
        string promptsPath = a.Require("prompts");
        int maxLength = a.Int("max-length", 200, 1, T5Tokenizer.MaxTokens);
        bool clean = a.Flag("clean");
        string output = a.Require("output");
        bool force = a.Flag("force");
        a.Done();
        AtomicFile.Check(output, force);
        var prompts = ReadPrompts(promptsPath);
        var tokenizer = T5Tokenizer.FromFolder(folder);
        var texts = clean ? prompts.Select(CaptionCleaner.Clean).ToList() : prompts;
        var batch = tokenizer.EncodeBatch(texts, maxLength);
        SafeTensors.Write(output, [("input_ids", Int64(batch.InputIds, texts.Count, maxLength)), ("attention_mask", Int64(batch.AttentionMask, texts.Count, maxLength))], overwrite: force);
        return 0;
    }

    /// <summary>A JSON file holding an array of strings.</summary>
    public static List<string> ReadPrompts(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"prompts file '{path}' does not exist", path);
        try
        {
            using var doc = JsonDocument.Parse(InputFile.ReadAllBytes(path, InputFile.MaxJsonBytes));
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}: expected a JSON array of strings, got a {doc.RootElement.ValueKind}");
            return doc.RootElement.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.String ? e.GetString()!
                : throw new InvalidDataException($"{path}: element {i} is a {e.ValueKind}, expected a string")).ToList();
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
    }

    public static HostTensor Int64(long[] values, params long[] shape) => new(DType.I64, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
}
