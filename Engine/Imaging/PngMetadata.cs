using System.Globalization;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using T2X.Vulkan.Files;
using T2X.Vulkan.Pipelines;

namespace T2X.Vulkan.Imaging;

/// <summary>
/// How a generated image was made, stored in its PNG as one text chunk per field (tEXt; iTXt when the text needs
/// Unicode): prompt, negative_prompt, seed, steps, cfg, size ("WxH"), frames (videos only), model, model_hash, t2x_version, and
/// Software = "t2x". Written by <c>t2x generate</c> and the viewer's save; read back (text chunks only, the
/// pixels are never decoded) to reproduce an image: <c>t2x generate --from</c>, a PNG dropped on the viewer.
/// </summary>
/// <param name="Model">model name</param>
/// <param name="ModelHash">hash of the model's weights (optional: "" when unknown)</param>
/// <param name="EngineVersion">version of t2x that made the image (optional)</param>
public sealed record PngMetadata(GenerationSettings Settings, string Model, string ModelHash = "", string EngineVersion = "")
{
    /// <summary>The text entries, keyword → value, in the order they are written.</summary>
    public IReadOnlyList<(string Key, string Value)> ToText() =>
    [
        ("prompt", Settings.Prompt),
        ("negative_prompt", Settings.Negative),
        ("seed", Settings.Seed.ToString(CultureInfo.InvariantCulture)),
        ("steps", Settings.Steps.ToString(CultureInfo.InvariantCulture)),
        ("cfg", Settings.Cfg.ToString("R", CultureInfo.InvariantCulture)),
        ("size", $"{Settings.Width}x{Settings.Height}"),
        .. Settings.Frames > 1 ? [("frames", Settings.Frames.ToString(CultureInfo.InvariantCulture))] : Array.Empty<(string, string)>(),
        ("model", Model),
        ("model_hash", ModelHash),
        ("t2x_version", EngineVersion),
        ("Software", "t2x"),
    ];

    /// <summary>Parses the text entries; <paramref name="source"/> names the file in error messages.</summary>
    public static PngMetadata FromText(IReadOnlyDictionary<string, string> text, string source)
    {
        if (!text.ContainsKey("prompt") && !text.ContainsKey("seed"))
            throw new InvalidDataException($"{source}: no t2x metadata in this PNG (text chunks prompt, seed, steps, cfg, size)");
        string Get(string key) => text.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"{source}: no '{key}' in the PNG text metadata (was it written by t2x?)");
        T Parse<T>(string key) where T : IParsable<T> =>
            T.TryParse(Get(key), CultureInfo.InvariantCulture, out var v) ? v
            : throw new InvalidDataException($"{source}: PNG metadata '{key}' = '{Get(key)}' is not a valid {typeof(T).Name}");
        var size = Get("size").Split('x');
        if (size.Length != 2 || !int.TryParse(size[0], CultureInfo.InvariantCulture, out int w) || !int.TryParse(size[1], CultureInfo.InvariantCulture, out int h))
            throw new InvalidDataException($"{source}: PNG metadata 'size' = '{Get("size")}' is not WIDTHxHEIGHT");
        var settings = new GenerationSettings
        {
            Prompt = Get("prompt"),
            Negative = text.GetValueOrDefault("negative_prompt", ""),
            Seed = Parse<long>("seed"),
            Steps = Parse<int>("steps"),
            Cfg = Parse<double>("cfg"),
            Width = w,
            Height = h,
            Frames = text.ContainsKey("frames") ? Parse<int>("frames") : 1,
        };
        try { settings.Validated(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{source}: PNG metadata: {e.Message}"); }
        return new PngMetadata(settings, text.GetValueOrDefault("model", ""), text.GetValueOrDefault("model_hash", ""),
            text.GetValueOrDefault("t2x_version", ""));
    }

    /// <summary>Writes interleaved RGB bytes [H, W, 3] as a PNG with this metadata; an existing file is replaced only with
    /// <paramref name="overwrite"/> (<see cref="AtomicFile"/>).</summary>
    public void Save(string path, byte[] rgb, int width, int height, bool overwrite = false) => SavePng(path, rgb, width, height, this, overwrite);

    /// <summary>Writes an RGB PNG, with metadata when given, through <see cref="AtomicFile"/>: nothing is left half-written
    /// and an existing file is replaced only with <paramref name="overwrite"/>.</summary>
    public static void SavePng(string path, byte[] rgb, int width, int height, PngMetadata? metadata, bool overwrite = false)
    {
        if (rgb.Length != 3 * width * height)
            throw new ArgumentException($"{rgb.Length} bytes for a {width}x{height} RGB image (expected {3 * width * height})");
        using var image = Image.LoadPixelData<Rgb24>(rgb, width, height);
        if (metadata is not null)
        {
            var png = image.Metadata.GetPngMetadata();
            foreach (var (key, value) in metadata.ToText())
                png.TextData.Add(new PngTextData(key, value, "", ""));
        }
        AtomicFile.Write(path, stream => image.SaveAsPng(stream, Encoder), overwrite);
    }

    /// <summary>How t2x writes PNGs: RGB, text never compressed, so tEXt stays readable by any tool (ImageSharp writes
    /// iTXt by itself for non-Latin-1 text).</summary>
    internal static readonly PngEncoder Encoder = new() { TextCompressionThreshold = int.MaxValue, ColorType = PngColorType.Rgb };

    /// <summary>Reads the metadata of a PNG written by t2x (headers and text chunks only, no pixel decoding);
    /// a clear error when the file is not one.</summary>
    public static PngMetadata Read(string path) =>
        FromText(ReadText(path) ?? throw new InvalidDataException($"{path}: not a PNG image"), path);

    /// <summary>The text chunks of a PNG (headers and text only, no pixel decoding); null when the file is not a PNG.</summary>
    public static Dictionary<string, string>? ReadText(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        IImageInfo? info;
        SixLabors.ImageSharp.Formats.IImageFormat? format;
        try { info = Image.Identify(path, out format); }
        catch (Exception e) when (e is UnknownImageFormatException or InvalidImageContentException)
        {
            throw new InvalidDataException($"{path}: not a readable image ({e.Message})");
        }
        if (info is null || format is not PngFormat) return null;
        var text = new Dictionary<string, string>();
        foreach (var t in info.Metadata.GetPngMetadata().TextData) text[t.Keyword] = t.Value;
        return text;
    }
}
