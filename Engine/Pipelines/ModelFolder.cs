using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Pipelines;

/// <summary>
/// A model folder as Engine/Pipelines/ModelFolder.md describes it: model_index.json naming the parts
/// (transformer/, text_encoder/, tokenizer/, vae/ for latent models) and the pipeline's defaults.
/// </summary>
public sealed record ModelFolder
{
    public required string Root { get; init; }
    public required string Name { get; init; }
    /// <summary>"pixel": the sampler's result is the image; "latent": it goes through the VAE.</summary>
    public required string Space { get; init; }
    public required int Frames { get; init; }
    public required int Height { get; init; }
    public required int Width { get; init; }
    public required int MaxLength { get; init; }
    public required bool CleanCaption { get; init; }
    public required string NegativePrompt { get; init; }
    public required string Transformer { get; init; }
    public required string TextEncoder { get; init; }
    public required string Tokenizer { get; init; }
    public string? Vae { get; init; }
    public required int Steps { get; init; }
    public required double Cfg { get; init; }
    public required int NumTrainSteps { get; init; }
    public required bool UseTimestepTransform { get; init; }
    /// <summary>diffusion.transform_scale: multiplies the timestep transform's shift ratio (default 1).</summary>
    public double TransformScale { get; init; } = 1.0;

    public bool IsPixelSpace => Space == "pixel";

    /// <summary>The settings a generation uses when the user gives none: this model's defaults.</summary>
    public GenerationSettings Defaults => new()
    {
        Negative = NegativePrompt,
        Steps = Steps,
        Cfg = Cfg,
        Width = Width,
        Height = Height,
        Frames = Frames,
    };

    /// <summary>The model shipped with t2x (copied next to the program).</summary>
    public static string BuiltinPath => Path.Combine(AppContext.BaseDirectory, "BuiltinModel");

    /// <summary>Reads &lt;dir&gt;/model_index.json; every missing part or bad value is named in the error.</summary>
    public static ModelFolder Open(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model folder '{dir}' does not exist");
        string indexPath = Path.Combine(dir, "model_index.json");
        if (!File.Exists(indexPath))
            throw new FileNotFoundException($"'{dir}' is not a model folder: it has no model_index.json (layout: Engine/Pipelines/ModelFolder.md)", indexPath);
        JsonElement root;
        try { root = JsonDocument.Parse(InputFile.ReadAllText(indexPath)).RootElement; }
        catch (JsonException e) { throw new InvalidDataException($"{indexPath}: not valid JSON ({e.Message})"); }
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{indexPath}: expected a JSON object");

        // Keys are dotted paths from the root ("diffusion.cfg_scale"); null and absent both take the default.
        JsonElement? Get(string path)
        {
            var e = root;
            foreach (var part in path.Split('.'))
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(part, out e) || e.ValueKind == JsonValueKind.Null) return null;
            return e;
        }
        string Str(string key, string? fallback) =>
            Get(key) is { } v ? (v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(key, "a string", v))
            : fallback ?? throw new InvalidDataException($"{indexPath}: '{key}' is missing");
        int Int(string key, int fallback, int min, int max) =>
            Get(key) is { } v ? (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n >= min && n <= max ? n
                : throw Bad(key, $"an integer from {min} to {max}", v)) : fallback;
        double Dbl(string key, double fallback, double min, double max) =>
            Get(key) is { } v ? (v.ValueKind == JsonValueKind.Number && v.GetDouble() is var d && d >= min && d <= max ? d
                : throw Bad(key, $"a number from {min} to {max}", v)) : fallback;
        bool Bool(string key, bool fallback) =>
            Get(key) is { } v ? (v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Bad(key, "true or false", v)) : fallback;
        InvalidDataException Bad(string key, string what, JsonElement? got = null) =>
            new($"{indexPath}: '{key}' must be {what}" + (got is { } g ? $", got {Shorten(g.GetRawText())}" : ""));

        if (Get("diffusion") is { ValueKind: not JsonValueKind.Object } diffusion) throw Bad("diffusion", "an object", diffusion);
        string modelId = Str("diffusion.model_id", "rflow");
        if (modelId != "rflow") throw new InvalidDataException($"{indexPath}: diffusion.model_id '{modelId}' is not supported (only rflow)");

        int frames = 1, height = 1024, width = 1024;
        if (Get("input_size") is { } size)
        {
            var s = size.ValueKind == JsonValueKind.Array ? size.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int n) ? n : -1).ToArray() : [];
            if (s.Length != 3 || s[0] < 1 || s[0] > GenerationSettings.MaxFrames || s[1..].Any(n => n < 1 || n > GenerationSettings.MaxSide))
                throw Bad("input_size", $"[frames, height, width] in pixels (frames up to {GenerationSettings.MaxFrames}, sides up to {GenerationSettings.MaxSide})", size);
            (frames, height, width) = (s[0], s[1], s[2]);
        }
        string space = Str("space", "latent");
        if (space is not ("pixel" or "latent")) throw Bad("space", "\"pixel\" or \"latent\"");

        var folder = new ModelFolder
        {
            Root = Path.GetFullPath(dir),
            Name = Str("name", Path.GetFileName(Path.GetFullPath(dir).TrimEnd('/'))),
            Space = space,
            Frames = frames, Height = height, Width = width,
            MaxLength = Int("model_max_length", 200, 1, Text.T5Tokenizer.MaxTokens),
            CleanCaption = Bool("clean_caption", true),
            NegativePrompt = Str("negative_prompt", ""),
            Transformer = Part(dir, Str("transformer", "transformer")),
            TextEncoder = Part(dir, Str("text_encoder", "text_encoder")),
            Tokenizer = Part(dir, Str("tokenizer", "tokenizer")),
            Vae = space == "latent" ? Part(dir, Str("vae", "vae")) : null,
            Steps = Int("diffusion.num_inference_steps", 30, 1, GenerationSettings.MaxSteps),
            Cfg = Dbl("diffusion.cfg_scale", 4.0, -GenerationSettings.MaxCfg, GenerationSettings.MaxCfg),
            NumTrainSteps = Int("diffusion.num_train_steps", 1000, 1, 1_000_000),
            UseTimestepTransform = Bool("diffusion.use_timestep_transform", true),
            TransformScale = Dbl("diffusion.transform_scale", 1.0, 1e-6, 1e6),
        };
        return folder;
    }

    /// <summary>A value from a file as shown in a message: at most 60 characters.</summary>
    static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    static string Part(string dir, string name)
    {
        string path = Path.Combine(dir, name);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"model folder '{dir}' has no '{name}/' (named in model_index.json)");
        return Path.GetFullPath(path);
    }

    /// <summary>
    /// A short fingerprint of the model (SHA-256 of model_index.json and every file in its parts: relative path and content; for files over
    /// 64 MiB their size and first and last 16 MiB), recorded in PNG metadata so an image names the weights it came from.
    /// </summary>
    public string Hash()
    {
        using var sha = SHA256.Create();
        string[] parts = [Transformer, TextEncoder, Tokenizer, .. Vae is null ? Array.Empty<string>() : [Vae]];
        var files = parts.SelectMany(FilesUnder).Append(Path.Combine(Root, "model_index.json")).Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var name = System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(Root, file).Replace('\\', '/'));
            sha.TransformBlock(name, 0, name.Length, null, 0);
            using var f = new FileStream(InputFile.OpenHandle(file), FileAccess.Read);
            const long big = 64 << 20, part = 16 << 20;
            if (f.Length <= big) Feed(sha, f, f.Length);
            else
            {
                var len = BitConverter.GetBytes(f.Length);
                sha.TransformBlock(len, 0, len.Length, null, 0);
                Feed(sha, f, part);
                f.Seek(-part, SeekOrigin.End);
                Feed(sha, f, part);
            }
        }
        sha.TransformFinalBlock([], 0, 0);
        return Convert.ToHexString(sha.Hash!)[..12].ToLowerInvariant();
    }

    /// <summary>The files in a folder and its subfolders. Symbolic links are followed (model folders from the Hugging Face
    /// cache are links into a blob store), but each real folder is entered once, so a link loop ends.</summary>
    static IEnumerable<string> FilesUnder(string root)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<(string dir, int depth)>([(root, 0)]);
        while (pending.TryPop(out var next))
        {
            var (dir, depth) = next;
            if (!seen.Add(RealPath(dir))) continue;
            if (depth > 64) throw new IOException($"{dir}: folders nested more than 64 deep (a loop of symbolic links?)");
            foreach (var f in Directory.EnumerateFiles(dir)) yield return f;
            foreach (var d in Directory.EnumerateDirectories(dir)) pending.Push((d, depth + 1));
        }
    }

    /// <summary>The path with every symbolic link in it resolved (realpath(3)).</summary>
    static string RealPath(string path)
    {
        string full = Path.GetFullPath(path), real = Path.GetPathRoot(full)!;
        foreach (var part in full[real.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = new DirectoryInfo(Path.Combine(real, part));
            real = next.ResolveLinkTarget(returnFinalTarget: true) is { } target ? RealPath(target.FullName) : next.FullName;
        }
        return real;
    }

    static void Feed(HashAlgorithm sha, Stream s, long count)
    {
        var buffer = new byte[1 << 20];
        while (count > 0)
        {
            int n = s.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
            if (n <= 0) break;
            sha.TransformBlock(buffer, 0, n, null, 0);
            count -= n;
        }
    }

    /// <summary>The engine's version, recorded in PNG metadata.</summary>
    public static string EngineVersion =>
        typeof(ModelFolder).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";
}
