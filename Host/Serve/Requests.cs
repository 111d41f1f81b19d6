using System.Globalization;
using System.Text.Json;
using T2X.Vulkan;

namespace T2X.Host.Serve;

/// <summary>A request body that cannot be used; <see cref="Field"/> names the field ("" for the body as a whole).</summary>
public sealed class BadRequestException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>
/// The JSON bodies of the three ways to ask for images: t2x's job API, OpenAI's images API and AUTOMATIC1111's
/// txt2img. Each becomes a <see cref="GenerationRequest"/> and an image count; a field of the wrong type or range is
/// refused with its name. The job API refuses unknown fields; the compatible ones ignore the fields of their APIs
/// that t2x has no use for, so existing clients work unchanged.
/// </summary>
public static class Requests
{
    /// <summary>The most images one request makes.</summary>
    public const int MaxCount = 16;

    /// <summary>POST /v1/jobs: {prompt, negative_prompt?, seed?, steps?, cfg?, width?, height?, count?}.</summary>
    public static (GenerationRequest Request, int Count) Job(byte[] body)
    {
        var o = Object(body);
        string[] known = ["prompt", "negative_prompt", "seed", "steps", "cfg", "width", "height", "count"];
        foreach (var p in o.EnumerateObject())
            if (!known.Contains(p.Name)) throw new BadRequestException(p.Name, $"unknown field '{p.Name}' (known: {string.Join(", ", known)})");
        var request = new GenerationRequest(Text(o, "prompt") ?? throw new BadRequestException("prompt", "prompt is required (a string)"))
        {
            NegativePrompt = Text(o, "negative_prompt"),
            Seed = Long(o, "seed"),
            Steps = Int(o, "steps"),
            Cfg = Number(o, "cfg"),
            Width = Int(o, "width"),
            Height = Int(o, "height"),
        };
        return (request, Count(o, "count", 1));
    }

    /// <summary>POST /v1/images/generations (OpenAI): {prompt, n?, size? "WxH", response_format? "b64_json"|"url"}.</summary>
    public static (GenerationRequest Request, int Count, string Format) OpenAi(byte[] body)
    {
        var o = Object(body);
        int? width = null, height = null;
        if (Text(o, "size") is { } size && size != "auto")
        {
            var parts = size.Split('x');
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w)
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int h))
                throw new BadRequestException("size", $"size must be WIDTHxHEIGHT (e.g. 64x64), got '{size}'");
            (width, height) = (w, h);
        }
        string format = Text(o, "response_format") ?? "b64_json";
        if (format is not ("b64_json" or "url")) throw new BadRequestException("response_format", $"response_format must be b64_json or url, got '{format}'");
        var request = new GenerationRequest(Text(o, "prompt") ?? throw new BadRequestException("prompt", "prompt is required (a string)"))
        {
            NegativePrompt = Text(o, "negative_prompt"),
            Seed = Long(o, "seed"),
            Width = width,
            Height = height,
        };
        return (request, Count(o, "n", 1), format);
    }

    /// <summary>POST /sdapi/v1/txt2img (AUTOMATIC1111): {prompt, negative_prompt, seed (-1: random), steps, cfg_scale,
    /// width, height, batch_size, n_iter}.</summary>
    public static (GenerationRequest Request, int Count) A1111(byte[] body)
    {
        var o = Object(body);
        long? seed = Long(o, "seed");
        var request = new GenerationRequest(Text(o, "prompt") ?? throw new BadRequestException("prompt", "prompt is required (a string)"))
        {
            NegativePrompt = Text(o, "negative_prompt"),
            Seed = seed == -1 ? null : seed,
            Steps = Int(o, "steps"),
            Cfg = Number(o, "cfg_scale"),
            Width = Int(o, "width"),
            Height = Int(o, "height"),
        };
        int batch = Count(o, "batch_size", 1), iterations = Count(o, "n_iter", 1);
        if (batch * iterations > MaxCount) throw new BadRequestException("batch_size", $"batch_size × n_iter must be at most {MaxCount}, got {batch * iterations}");
        return (request, batch * iterations);
    }

    static JsonElement Object(byte[] body)
    {
        try
        {
            var root = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 }).RootElement;
            return root.ValueKind == JsonValueKind.Object ? root : throw new BadRequestException("", $"the body must be a JSON object, got {root.ValueKind.ToString().ToLowerInvariant()}");
        }
        catch (JsonException e) { throw new BadRequestException("", $"the body is not valid JSON: {e.Message}"); }
    }

    static JsonElement? Field(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    static string? Text(JsonElement o, string name) => Field(o, name) is not { } v ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new BadRequestException(name, $"{name} must be a string, got {Describe(v)}");

    static long? Long(JsonElement o, string name) => Field(o, name) is not { } v ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n : throw new BadRequestException(name, $"{name} must be an integer, got {Describe(v)}");

    static int? Int(JsonElement o, string name) => Field(o, name) is not { } v ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) ? n : throw new BadRequestException(name, $"{name} must be an integer, got {Describe(v)}");

    static double? Number(JsonElement o, string name) => Field(o, name) is not { } v ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? d
        : throw new BadRequestException(name, $"{name} must be a number, got {Describe(v)}");

    static int Count(JsonElement o, string name, int fallback)
    {
        int n = Int(o, name) ?? fallback;
        return n is >= 1 and <= MaxCount ? n : throw new BadRequestException(name, $"{name} must be between 1 and {MaxCount}, got {n}");
    }

    static string Describe(JsonElement v)
    {
        string raw = v.GetRawText();
        return raw.Length <= 40 ? raw : raw[..40] + "…";
    }
}
