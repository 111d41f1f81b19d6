using System.Text;
using System.Text.Json;
using T2X.Vulkan.Files;
using T2X.Vulkan.Pipelines;

namespace T2X.Vulkan.Batch;

/// <summary>One line of a prompt list: its request, or why it cannot be generated (never both).
/// <paramref name="Line"/> counts every line of the file from 1, blank ones included, so it is the number an editor shows.</summary>
public sealed record PromptLine(int Line, GenerationSettings? Request, string? Error)
{
    /// <summary>The image's file name in the output folder: <c>NNNNNN-slug.png</c> (line number, slug of the prompt).
    /// A bad line has none.</summary>
    public string? FileName => Request is null ? null : $"{Line:D6}-{OutputNames.Slug(Request.Prompt)}.png";
}

/// <summary>
/// A prompt list for <c>t2x batch</c>: a <c>.txt</c> file with one prompt a line, or a <c>.jsonl</c> file with one JSON
/// object a line carrying <c>t2x generate</c>'s fields (<c>prompt</c>, required; <c>negative_prompt</c>, <c>seed</c>,
/// <c>steps</c>, <c>cfg</c>, <c>width</c>, <c>height</c>). Blank lines are no requests. A line that cannot be generated
/// (bad JSON, an unknown field, a value out of range, a size the model cannot make, a control character in a prompt)
/// becomes a <see cref="PromptLine"/> with its error; the others are unaffected. A line without a seed gets
/// <c>baseSeed + line − 1</c>, so the same file and base seed always give the same requests.
/// </summary>
public static class PromptList
{
    /// <summary>The largest prompt list read.</summary>
    public const long MaxBytes = 256L << 20;
    /// <summary>The longest prompt (characters) a line may hold.</summary>
    public const int MaxPromptChars = 20_000;

    static readonly string[] Fields = ["prompt", "negative_prompt", "seed", "steps", "cfg", "width", "height", "frames"];

    /// <summary>Reads every line of the list. <paramref name="defaults"/> fills what a line leaves out (the seed comes
    /// from <paramref name="baseSeed"/>); <paramref name="check"/> throws ArgumentException for a request the model
    /// cannot make (its message becomes the line's error).</summary>
    public static IReadOnlyList<PromptLine> Read(string path, GenerationSettings defaults, long baseSeed, Action<GenerationSettings>? check = null)
    {
        bool json = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        if (!json && !path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{path}: a prompt list is a .txt file (one prompt a line) or a .jsonl file (one JSON request a line)");
        var bytes = InputFile.ReadAllBytes(path, MaxBytes);
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        var result = new List<PromptLine>();
        int start = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;   // a UTF-8 byte-order mark
        for (int line = 1; start <= bytes.Length; line++)
        {
            int end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0) end = bytes.Length;
            int stop = end > start && bytes[end - 1] == '\r' ? end - 1 : end;
            var raw = bytes.AsSpan(start, stop - start);
            start = end + 1;
            if (end == bytes.Length && raw.IsEmpty) break;   // the file's last newline ends the last line
            string text;
            try { text = strict.GetString(raw); }
            catch (DecoderFallbackException) { result.Add(new PromptLine(line, null, "the line is not valid UTF-8 text")); continue; }
            if (string.IsNullOrWhiteSpace(text)) continue;
            long seed = baseSeed + (line - 1);
            if (baseSeed > long.MaxValue - (line - 1))
            {
                result.Add(new PromptLine(line, null, $"the seed {baseSeed} + {line - 1} (line − 1) runs past the largest seed, {long.MaxValue}"));
                continue;
            }
            try
            {
                var request = json ? FromJson(text, defaults with { Seed = seed }) : defaults with { Prompt = CheckPrompt(text.Trim(), "the prompt"), Seed = seed };
                request.Validated();
                check?.Invoke(request);
                result.Add(new PromptLine(line, request, null));
            }
            catch (Exception e) when (e is ArgumentException or FormatException or JsonException or InvalidOperationException)
            {
                result.Add(new PromptLine(line, null, e is JsonException ? $"not a JSON object ({FirstSentence(e.Message)})" : e.Message));
            }
        }
        return result;
    }

    static string FirstSentence(string message)
    {
        int i = message.IndexOf(". ", StringComparison.Ordinal);
        return i > 0 ? message[..i] : message.TrimEnd('.');
    }

    static string CheckPrompt(string prompt, string what)
    {
        if (prompt.Length > MaxPromptChars) throw new ArgumentException($"{what} has {prompt.Length} characters, more than {MaxPromptChars}");
        foreach (char c in prompt)
            if (char.IsControl(c) && c != '\t')
                throw new ArgumentException($"{what} holds the control character U+{(int)c:X4}");
        return prompt;
    }

    static GenerationSettings FromJson(string text, GenerationSettings basis)
    {
        using var doc = JsonDocument.Parse(text);
        var o = doc.RootElement;
        if (o.ValueKind != JsonValueKind.Object) throw new ArgumentException($"expected a JSON object such as {{\"prompt\": \"a red circle\"}}, got a {o.ValueKind.ToString().ToLowerInvariant()}");
        foreach (var p in o.EnumerateObject())
            if (!Fields.Contains(p.Name)) throw new ArgumentException($"unknown field \"{p.Name}\" (fields: {string.Join(", ", Fields)})");
        if (!o.TryGetProperty("prompt", out var prompt) || prompt.ValueKind != JsonValueKind.String)
            throw new ArgumentException("\"prompt\" must be given as a string");
        var s = basis with { Prompt = CheckPrompt(prompt.GetString()!, "\"prompt\"") };
        if (Get(o, "negative_prompt") is { } n)
            s = s with { Negative = n.ValueKind == JsonValueKind.String ? CheckPrompt(n.GetString()!, "\"negative_prompt\"") : throw Bad("negative_prompt", "a string", n) };
        if (Get(o, "seed") is { } seed) s = s with { Seed = seed.ValueKind == JsonValueKind.Number && seed.TryGetInt64(out long v) ? v : throw Bad("seed", "an integer", seed) };
        if (Get(o, "steps") is { } steps) s = s with { Steps = Int(steps, "steps") };
        if (Get(o, "width") is { } width) s = s with { Width = Int(width, "width") };
        if (Get(o, "height") is { } height) s = s with { Height = Int(height, "height") };
        if (Get(o, "cfg") is { } cfg) s = s with { Cfg = cfg.ValueKind == JsonValueKind.Number ? cfg.GetDouble() : throw Bad("cfg", "a number", cfg) };
        if (Get(o, "frames") is { } frames && Int(frames, "frames") != 1)
            throw new ArgumentException("\"frames\": t2x batch makes still images (t2x generate --frames makes a video)");
        return s with { Frames = 1 };
    }

    static JsonElement? Get(JsonElement o, string name) => o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    static int Int(JsonElement e, string name) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw Bad(name, "an integer", e);

    static ArgumentException Bad(string name, string what, JsonElement got)
    {
        string raw = got.GetRawText();
        return new($"\"{name}\" must be {what}, got {(raw.Length > 40 ? raw[..40] + "…" : raw)}");
    }

    /// <summary>The lines of shard <paramref name="shard"/>: those whose line number L has (L − 1) mod N = I.</summary>
    public static IReadOnlyList<PromptLine> Select(IReadOnlyList<PromptLine> lines, Shard shard)
    {
        if (shard.Count < 1 || shard.Index < 0 || shard.Index >= shard.Count) throw new ArgumentException($"shard {shard} does not exist (I/N with 0 ≤ I < N)");
        return lines.Where(l => (l.Line - 1) % shard.Count == shard.Index).ToList();
    }
}
