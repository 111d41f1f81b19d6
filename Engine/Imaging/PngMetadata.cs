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
        using var image = ToImage(rgb, width, height, metadata);
        AtomicFile.Write(path, stream => image.SaveAsPng(stream, Encoder), overwrite);
    }

    /// <summary>The bytes <see cref="SavePng"/> writes to a file, in memory (previews, the NuGet API).</summary>
    public static byte[] EncodePng(byte[] rgb, int width, int height, PngMetadata? metadata)
    {
        using var image = ToImage(rgb, width, height, metadata);
        var bytes = new MemoryStream();
        image.SaveAsPng(bytes, Encoder);
        return bytes.ToArray();
    }

    static Image<Rgb24> ToImage(byte[] rgb, int width, int height, PngMetadata? metadata)
    {
        if (rgb.Length != 3 * width * height)
            throw new ArgumentException($"{rgb.Length} bytes for a {width}x{height} RGB image (expected {3 * width * height})");
        var image = Image.LoadPixelData<Rgb24>(rgb, width, height);
        if (metadata is not null)
        {
            var png = image.Metadata.GetPngMetadata();
            foreach (var (key, value) in metadata.ToText())
                png.TextData.Add(new PngTextData(key, value, "", ""));
        }
        return image;
    }

    /// <summary>How t2x writes PNGs: RGB, text never compressed, so tEXt stays readable by any tool (ImageSharp writes
    /// iTXt by itself for non-Latin-1 text).</summary>
    internal static readonly PngEncoder Encoder = new() { TextCompressionThreshold = int.MaxValue, ColorType = PngColorType.Rgb };

    /// <summary>Reads the metadata of a PNG written by t2x (headers and text chunks only, no pixel decoding);
    /// a clear error when the file is not one.</summary>
    public static PngMetadata Read(string path) =>
        FromText(ReadText(path) ?? throw new InvalidDataException($"{path}: not a PNG image"), path);

    /// <summary>The most text all text chunks of a PNG may hold together once inflated (a prompt takes a few KiB): a
    /// small file that inflates to gigabytes is refused before the memory is taken.</summary>
    public const int MaxTextBytes = 1 << 20;

    static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a];

    /// <summary>The text chunks of a PNG (tEXt, zTXt, iTXt; the pixels are skipped, never decoded); null when the file is
    /// not a PNG. At most <see cref="MaxTextBytes"/> of text is read.</summary>
    public static Dictionary<string, string>? ReadText(string path)
    {
        InputFile.RequireRegular(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> head = stackalloc byte[8];
        if (file.ReadAtLeast(head, 8, throwOnEndOfStream: false) < 8 || !head.SequenceEqual(Signature)) return null;
        var text = new Dictionary<string, string>();
        int left = MaxTextBytes;
        while (true)
        {
            if (file.ReadAtLeast(head, 8, throwOnEndOfStream: false) < 8) throw new InvalidDataException($"{path}: the PNG ends before its IEND chunk (truncated?)");
            uint length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(head);
            string type = System.Text.Encoding.ASCII.GetString(head[4..]);
            if (length > file.Length - file.Position - 4) throw new InvalidDataException($"{path}: PNG chunk '{type}' of {length} bytes runs past the end of the file");
            if (type == "IEND") return text;
            if (type is "tEXt" or "zTXt" or "iTXt")
            {
                if (length > left) throw TooMuch(path);
                var data = new byte[length];
                file.ReadExactly(data);
                var (key, value) = TextChunk(path, type, data, ref left);
                text[key] = value;
                file.Seek(4, SeekOrigin.Current);   // CRC
            }
            else file.Seek(length + 4L, SeekOrigin.Current);
        }
    }

    static InvalidDataException TooMuch(string path) => new($"{path}: the PNG's text chunks hold more than {MaxTextBytes} bytes of text");

    /// <summary>One text chunk: keyword, NUL, then tEXt: Latin-1 text; zTXt: method 0 and zlib data (Latin-1);
    /// iTXt: compressed flag, method, language NUL, translated keyword NUL, UTF-8 text (zlib when flagged).</summary>
    static (string key, string value) TextChunk(string path, string type, byte[] data, ref int left)
    {
        int nul = Array.IndexOf(data, (byte)0);
        if (nul < 1) throw new InvalidDataException($"{path}: PNG {type} chunk without a keyword");
        string key = System.Text.Encoding.Latin1.GetString(data, 0, nul);
        int at = nul + 1;
        bool compressed = type == "zTXt";
        var encoding = System.Text.Encoding.Latin1;
        if (type == "iTXt")
        {
            if (data.Length < at + 2) throw new InvalidDataException($"{path}: PNG iTXt chunk '{key}' is truncated");
            compressed = data[at] != 0;
            at += 2;
            for (int skip = 0; skip < 2; skip++)   // language tag, translated keyword
            {
                int end = Array.IndexOf(data, (byte)0, at);
                if (end < 0) throw new InvalidDataException($"{path}: PNG iTXt chunk '{key}' is truncated");
                at = end + 1;
            }
            encoding = System.Text.Encoding.UTF8;
        }
        else if (compressed) at++;   // compression method
        if (at > data.Length) throw new InvalidDataException($"{path}: PNG {type} chunk '{key}' is truncated");
        byte[] bytes = compressed ? Inflate(path, key, data.AsMemory(at), left) : data[at..];
        left -= bytes.Length;
        return (key, encoding.GetString(bytes));
    }

    static byte[] Inflate(string path, string key, ReadOnlyMemory<byte> zlib, int limit)
    {
        try
        {
            using var z = new System.IO.Compression.ZLibStream(new MemoryStream(zlib.ToArray()), System.IO.Compression.CompressionMode.Decompress);
            var result = new MemoryStream();
            var buffer = new byte[1 << 16];
            for (int n; (n = z.Read(buffer)) > 0;)
            {
                if (result.Length + n > limit) throw TooMuch(path);
                result.Write(buffer, 0, n);
            }
            return result.ToArray();
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path)) { throw new InvalidDataException($"{path}: PNG text '{key}' is not valid zlib data ({e.Message})"); }
    }
}
