using T2X.Host.Viewer;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Presentation;

namespace T2X.Host.Commands;

/// <summary>
/// t2x view [prompt] [options]: a window that shows the image forming step by step (Host/Viewer).
/// Until the text-to-image pipeline exists, only the synthetic source runs (--synthetic, a development flag).
/// </summary>
public static class ViewCommand
{
    public const string Usage =
        "t2x view [prompt] [--negative TEXT] [--seed N] [--steps N] [--cfg X] [--size WxH] [--window WxH]\n" +
        "         [--screenshot FILE] [--exit-after-final] [--out DIR] [--device N|name]";

    public static int Run(Args a)
    {
        var defaults = new GenerationSettings();
        // The synthetic source has no model to take a size from: a small default keeps it quick.
        var (width, height) = Size(a.Option("size"), "size") ?? (256, 256);
        var settings = new GenerationSettings
        {
            Negative = a.Option("negative") ?? "",
            Seed = a.Long("seed", 0),
            Steps = a.Int("steps", defaults.Steps),
            Cfg = a.Double("cfg", defaults.Cfg),
            Width = width,
            Height = height,
        };
        // The window fits the image into 1024 px (at least 512 px on the short side) unless --window says otherwise.
        double fit = Math.Min(1024.0 / Math.Max(width, height), Math.Max(1, 512.0 / Math.Min(width, height)));
        var window = Size(a.Option("window"), "window") ?? ((int)Math.Round(width * fit), (int)Math.Round(height * fit));
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
            WindowWidth = window.Item1,
            WindowHeight = window.Item2,
            ResizeAfterFirstPreview = resize,
            Script = a.Option("script")?.Split(';') ?? [],      // tests: input played after each final image
            Settings = settings with { Prompt = string.Join(" ", a.Positional) },
        };
        a.Done(maxPositional: int.MaxValue);
        try { options.Settings.Validated(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        if (stepMs < 0) throw new UsageException($"--step-ms must be at least 0, got {stepMs}");
        if (!synthetic)
            throw new NotSupportedException("the text-to-image pipeline is not built yet, so the viewer has nothing to run; " +
                                            "`t2x view --synthetic` shows a test pattern forming over the steps");
        return ViewerApp.Run(options, gpu => new SyntheticSource(gpu, TimeSpan.FromMilliseconds(stepMs)));
    }

    static (int, int)? Size(string? text, string option)
    {
        if (text is null) return null;
        var parts = text.Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out int w) && int.TryParse(parts[1], out int h) && w > 0 && h > 0)
            return (w, h);
        throw new UsageException($"--{option} expects WIDTHxHEIGHT (e.g. 512x512), got '{text}'");
    }
}
