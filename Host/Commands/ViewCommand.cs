using T2X.Host.Viewer;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Presentation;

namespace T2X.Host.Commands;

/// <summary>
/// t2x view [prompt] [options]: a window that shows the image forming step by step (Host/Viewer). The generation
/// options are those of t2x generate. Until the text-to-image pipeline exists, only the synthetic source runs
/// (--synthetic, a development flag).
/// </summary>
public static class ViewCommand
{
    public const string Usage =
        "t2x view [prompt | --prompt TEXT] [--negative-prompt TEXT] [--seed N] [--steps N] [--cfg X] [--width N] [--height N]\n" +
        "         [--from FILE.png] [--window WxH] [--out DIR] [--screenshot FILE] [--exit-after-final] [--device N|name]";

    public static int Run(Args a)
    {
        // --from: start from the settings recorded in a PNG made by t2x; other options override them.
        string? from = a.Option("from");
        var basis = from is null ? new GenerationSettings { Width = 256, Height = 256 } : PngMetadata.Read(from).Settings;
        string? prompt = a.Option("prompt");
        long seed = a.Option("seed") is null ? (from is null ? Random.Shared.NextInt64(0, 1L << 53) : basis.Seed) : a.Long("seed", 0);
        var settings = basis with
        {
            Negative = a.Option("negative-prompt") ?? basis.Negative,
            Seed = seed,
            Steps = a.Int("steps", basis.Steps),
            Cfg = a.Double("cfg", basis.Cfg),
            Width = a.Int("width", basis.Width),
            Height = a.Int("height", basis.Height),
        };
        var window = Size(a.Option("window"), "window") ?? DefaultWindow(settings.Width, settings.Height);
        bool synthetic = a.Flag("synthetic");               // development: the test pattern instead of the model
        int stepMs = a.Int("step-ms", 200);                  // development: synthetic step time
        var resize = Size(a.Option("resize-after-first"), "resize-after-first");   // tests: resize from code
        var options = new ViewerOptions
        {
            Screenshot = a.Option("screenshot"),
            ExitAfterFinal = a.Flag("exit-after-final"),
            OutputDirectory = a.Option("out") ?? ".",
            Device = a.Option("device"),
            PreferBlit = a.Flag("blit"),                     // development: force the blit fallback
            WindowWidth = window.Width,
            WindowHeight = window.Height,
            ResizeAfterFirstPreview = resize,
            Script = a.Option("script")?.Split(';') ?? [],  // tests: input played after each final image
            Settings = settings with
            {
                Prompt = prompt ?? (a.Positional.Count > 0 ? string.Join(" ", a.Positional) : basis.Prompt),
            },
        };
        a.Done(maxPositional: prompt is null ? int.MaxValue : 0);
        try { options.Settings.Validated(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        if (stepMs < 0) throw new UsageException($"--step-ms must be at least 0, got {stepMs}");
        if (!synthetic)
            throw new NotSupportedException("the text-to-image pipeline is not built yet, so the viewer has nothing to run; " +
                                            "`t2x view --synthetic` shows a test pattern forming over the steps");
        Console.WriteLine($"seed {options.Settings.Seed}");
        return ViewerApp.Run(options, gpu => new SyntheticSource(gpu, TimeSpan.FromMilliseconds(stepMs)));
    }

    /// <summary>The image fitted into 1024 px, enlarged to at least 512 px on its short side.</summary>
    static (int Width, int Height) DefaultWindow(int width, int height)
    {
        double fit = Math.Min(1024.0 / Math.Max(width, height), Math.Max(1, 512.0 / Math.Min(width, height)));
        return (Math.Max(1, (int)Math.Round(width * fit)), Math.Max(1, (int)Math.Round(height * fit)));
    }

    static (int Width, int Height)? Size(string? text, string option)
    {
        if (text is null) return null;
        var parts = text.Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out int w) && int.TryParse(parts[1], out int h) && w > 0 && h > 0 && w <= 16384 && h <= 16384)
            return (w, h);
        throw new UsageException($"--{option} expects WIDTHxHEIGHT (e.g. 512x512), got '{text}'");
    }
}
