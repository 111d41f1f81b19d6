using T2X.Host.Viewer;
using T2X.Vulkan.Files;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Presentation;

namespace T2X.Host.Commands;

/// <summary>
/// t2x view [prompt] [options]: a window that shows the image forming step by step (Host/Viewer), with the options
/// of t2x generate. Runs the text-to-image pipeline (the built-in model or --model DIR); --synthetic, a development
/// flag, runs a test pattern instead.
/// </summary>
public static class ViewCommand
{
    public const string Usage =
        "t2x view [prompt | --prompt TEXT] [--negative-prompt TEXT] [--seed N] [--steps N] [--cfg X] [--width N] [--height N]\n" +
        "         [--from FILE.png] [--model DIR] [--window WxH] [--out DIR] [--screenshot FILE [--force]] [--exit-after-final] [--device N|name]";

    public static int Run(Args a)
    {
        // --from: start from the settings recorded in a PNG made by t2x; other options override them.
        string? from = a.Option("from");
        string? promptOption = a.Option("prompt"), negative = a.Option("negative-prompt");
        int? steps = a.IntOrNull("steps"), width = a.IntOrNull("width"), height = a.IntOrNull("height");
        long? seed = a.Option("seed") is null ? null : a.Long("seed", 0);
        double? cfg = a.Option("cfg") is null ? null : a.Double("cfg", 0);
        string modelDir = a.Option("model") ?? ModelFolder.BuiltinPath;
        var window = Size(a.Option("window"), "window");
        bool synthetic = a.Flag("synthetic");               // development: the test pattern instead of the model
        int stepMs = a.Int("step-ms", 200);                  // development: synthetic step time
        var resize = Size(a.Option("resize-after-first"), "resize-after-first");   // tests: resize from code
        var options = new ViewerOptions
        {
            Screenshot = a.Option("screenshot"),
            Force = a.Flag("force"),
            ExitAfterFinal = a.Flag("exit-after-final"),
            OutputDirectory = a.Option("out") ?? ".",
            Device = a.Option("device"),
            PreferBlit = a.Flag("blit"),                     // development: force the blit fallback
            Window = window,
            ResizeAfterFirstPreview = resize,
            Script = a.Option("script")?.Split(';') ?? [],  // tests: input played after each final image
        };
        a.Done(maxPositional: promptOption is null ? int.MaxValue : 0);
        if (stepMs < 0) throw new UsageException($"--step-ms must be at least 0, got {stepMs}");
        if (options.Screenshot is not null) AtomicFile.Check(options.Screenshot, options.Force);
        string? prompt = promptOption ?? (a.Positional.Count > 0 ? string.Join(" ", a.Positional) : null);
        var recorded = from is null ? null : PngMetadata.Read(from);

        // The settings of the first generation: the model's defaults (or the PNG's), then the options.
        GenerationSettings Settle(GenerationSettings defaults)
        {
            var basis = recorded?.Settings ?? defaults;
            var settings = basis with
            {
                Prompt = prompt ?? basis.Prompt,
                Negative = negative ?? basis.Negative,
                Seed = seed ?? (recorded is null ? Random.Shared.NextInt64(0, 1L << 53) : basis.Seed),
                Steps = steps ?? basis.Steps,
                Cfg = cfg ?? basis.Cfg,
                Width = width ?? basis.Width,
                Height = height ?? basis.Height,
            };
            try { return settings.Validated(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
        }

        if (synthetic)
        {
            var settings = Settle(new GenerationSettings { Width = 256, Height = 256 });   // bad options fail before a window opens
            return ViewerApp.Run(options, gpu => (new SyntheticSource(gpu, TimeSpan.FromMilliseconds(stepMs)), settings));
        }
        var folder = ModelFolder.Open(modelDir);
        return ViewerApp.Run(options, gpu =>
        {
            var pipeline = new TextToImage(gpu, folder);
            try
            {
                var settings = Settle(pipeline.Defaults);
                try { pipeline.CheckSize(settings.Width, settings.Height); }
                catch (ArgumentException e) { throw new UsageException(e.Message); }
                return (pipeline, settings);
            }
            catch
            {
                pipeline.Dispose();
                throw;
            }
        });
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
