using System.Globalization;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Imaging;

/// <summary>
/// A generated video on disk: an animated GIF (ImageSharp 2.1 has no APNG encoder; its GIF encoder quantizes each
/// frame to 256 colours) and every frame as a lossless PNG next to it: NAME.gif, NAME-001.png … NAME-0NN.png.
/// Each PNG carries the generation metadata (<see cref="PngMetadata"/>, plus "frame" = its 1-based index) and the GIF
/// carries it as a comment ("key: value" lines). All files are written to temporary names first and published only when
/// every one is complete (<see cref="AtomicFile.WriteAll"/>).
/// </summary>
public static class VideoFiles
{
    /// <summary>GIF frame delay in 1/100 s: 4 → 25 frames per second (GIF cannot say 24).</summary>
    public const int FrameDelay = 4;

    /// <summary>The GIF path and the frame PNG paths of a video of <paramref name="frames"/> frames.</summary>
    public static string[] Paths(string gifPath, int frames)
    {
        if (!gifPath.EndsWith(".gif", StringComparison.OrdinalIgnoreCase)) throw new ArgumentException($"a video is written as a .gif, got '{gifPath}'");
        string stem = gifPath[..^4];
        int digits = Math.Max(3, frames.ToString(CultureInfo.InvariantCulture).Length);
        return [gifPath, .. Enumerable.Range(1, frames).Select(i => $"{stem}-{i.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0')}.png")];
    }

    /// <summary>
    /// Frame PNGs of an earlier video under the same name that this one does not replace (an earlier, longer video, or
    /// one numbered with more digits): writing this video removes them, so the folder never shows a mix of two videos.
    /// Only PNGs that t2x wrote as frames count (their text chunks say so), never other files with a similar name.
    /// </summary>
    public static string[] StaleFrames(string gifPath, int frames)
    {
        var own = Paths(gifPath, frames).Select(Path.GetFullPath).ToHashSet();
        string full = Path.GetFullPath(gifPath), folder = Path.GetDirectoryName(full)!, stem = Path.GetFileName(full)[..^4];
        if (!Directory.Exists(folder)) return [];
        return Directory.EnumerateFiles(folder, $"{stem}-*.png")
            .Where(p => !own.Contains(p) && Path.GetFileNameWithoutExtension(p)[(stem.Length + 1)..].All(char.IsAsciiDigit) && IsFrame(p))
            .Order(StringComparer.Ordinal).ToArray();

        static bool IsFrame(string path)
        {
            try { return PngMetadata.ReadText(path) is { } text && text.ContainsKey("frame") && text.ContainsKey("t2x_version"); }
            catch (InvalidDataException) { return false; }
        }
    }

    /// <summary>Writes the GIF and the frame PNGs (interleaved RGB bytes [H, W, 3] each) as one group through
    /// <see cref="AtomicFile"/>; existing files are replaced only with <paramref name="overwrite"/>.</summary>
    public static void Save(string gifPath, IReadOnlyList<byte[]> frames, int width, int height, PngMetadata metadata, bool overwrite = false)
    {
        if (frames.Count == 0) throw new ArgumentException("a video needs at least one frame");
        foreach (var f in frames)
            if (f.Length != 3 * width * height) throw new ArgumentException($"{f.Length} bytes for a {width}x{height} RGB frame (expected {3 * width * height})");
        var paths = Paths(gifPath, frames.Count);
        var stale = StaleFrames(gifPath, frames.Count);
        var files = new List<(string, Action<Stream>)> { (paths[0], stream => WriteGif(stream, frames, width, height, metadata)) };
        for (int i = 0; i < frames.Count; i++)
        {
            int index = i;
            files.Add((paths[i + 1], stream => WriteFrame(stream, frames[index], index, width, height, metadata)));
        }
        AtomicFile.WriteAll(files, overwrite);
        foreach (var p in stale) File.Delete(p);
    }

    static void WriteGif(Stream stream, IReadOnlyList<byte[]> frames, int width, int height, PngMetadata metadata)
    {
        using var gif = Image.LoadPixelData<Rgb24>(frames[0], width, height);
        var meta = gif.Metadata.GetGifMetadata();
        meta.RepeatCount = 0;   // loop forever
        meta.Comments.Add(string.Join("\n", metadata.ToText().Select(kv => $"{kv.Key}: {kv.Value}")));
        gif.Frames.RootFrame.Metadata.GetGifMetadata().FrameDelay = FrameDelay;
        for (int i = 1; i < frames.Count; i++)
        {
            using var next = Image.LoadPixelData<Rgb24>(frames[i], width, height);
            var added = gif.Frames.AddFrame(next.Frames.RootFrame);
            added.Metadata.GetGifMetadata().FrameDelay = FrameDelay;
        }
        gif.SaveAsGif(stream, new GifEncoder { ColorTableMode = GifColorTableMode.Local });
    }

    static void WriteFrame(Stream stream, byte[] rgb, int index, int width, int height, PngMetadata metadata)
    {
        using var png = Image.LoadPixelData<Rgb24>(rgb, width, height);
        var text = png.Metadata.GetPngMetadata().TextData;
        foreach (var (key, value) in metadata.ToText()) text.Add(new PngTextData(key, value, "", ""));
        text.Add(new PngTextData("frame", (index + 1).ToString(CultureInfo.InvariantCulture), "", ""));
        png.SaveAsPng(stream, PngMetadata.Encoder);
    }
}
