using System.Diagnostics;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Pipelines;

namespace T2X.Host.Commands;

/// <summary>t2x generate "prompt": text to PNG (or, with --frames, an animated GIF and its frames) with the built-in model
/// or a model folder; --dry-run prints the memory plan.</summary>
public static class GenerateCommand
{
    public const string Usage =
        "t2x generate \"prompt\" [--negative-prompt TEXT] [--steps N] [--cfg X] [--seed N] [--width PX] [--height PX] [--frames N]\n" +
        "             [--count N] [-o|--output FILE.png|FILE.gif|DIR] [--force] [--model DIR] [--device N|name] [--from IMAGE.png]\n" +
        "             [--memory-budget GIB] [--dry-run]\n" +
        "  --frames N        a video (latent models with a time axis): an animated GIF plus every frame as PNG\n" +
        "  --memory-budget   device memory to plan for, in GiB (default: the device's); stages that do not fit together\n" +
        "                    load and release their weights one after another\n" +
        "  --dry-run         print the plan (stages, weights, activations, peak device memory) from the checkpoint headers;\n" +
        "                    loads nothing, runs nothing, needs no prompt";

    public static int Run(Args a)
    {
        if (a.Help(Usage)) return 0;
        string? from = a.Option("from");
        string? promptOption = a.Option("prompt");
        string? negative = a.Option("negative-prompt");
        int? steps = a.IntOrNull("steps"), width = a.IntOrNull("width"), height = a.IntOrNull("height"), framesOption = a.IntOrNull("frames");
        double? cfg = a.DoubleOrNull("cfg");
        long? seed = a.LongOrNull("seed");
        int count = a.Int("count", 1, 1, MaxCount);
        string? output = a.Option("output");
        bool force = a.Flag("force");
        bool dryRun = a.Flag("dry-run");
        long? budget = a.Gib("memory-budget");
        string modelDir = a.Option("model") ?? ModelFolder.BuiltinPath;
        string? device = a.Option("device");
        a.Done(maxPositional: 1);

        string? prompt = a.Positional.Count > 0 ? a.Positional[0] : null;
        if (prompt is not null && promptOption is not null) throw new UsageException("give the prompt once: as an argument or with --prompt");
        prompt ??= promptOption;
        var recorded = from is null ? null : PngMetadata.Read(from);
        if (prompt is null && recorded is null && !dryRun) throw new UsageException("no prompt: t2x generate \"a red circle in the center\" (or --from IMAGE.png)\n" + Usage);

        var folder = ModelFolder.Open(modelDir);
        var basis = recorded?.Settings ?? folder.Defaults;
        if (recorded is not null && recorded.Model != folder.Name)
            Console.Error.WriteLine($"note: {from} was made with model '{Terminal.Safe(recorded.Model)}', this is '{Terminal.Safe(folder.Name)}'");
        var settings = basis with
        {
            Prompt = prompt ?? basis.Prompt,
            Negative = negative ?? basis.Negative,
            Steps = steps ?? basis.Steps,
            Cfg = cfg ?? basis.Cfg,
            Seed = seed ?? recorded?.Settings.Seed ?? Random.Shared.NextInt64(0, 1L << 53),
            Width = width ?? basis.Width,
            Height = height ?? basis.Height,
            Frames = framesOption ?? basis.Frames,
        };
        if (settings.Seed > long.MaxValue - (count - 1))
            throw new UsageException($"--seed {settings.Seed} with --count {count} runs past the largest seed, {long.MaxValue}");
        var parts = ModelParts.Read(folder);
        try
        {
            settings.Validated();
            parts.CheckSize(settings.Width, settings.Height, settings.Frames);
        }
        catch (ArgumentException e) { throw new UsageException(e.Message); }

        if (dryRun)
        {
            // The budget: given, else the device's local heap (the device is opened for its properties only).
            if (budget is null)
            {
                using var probe = new Gpu(new GpuOptions { Device = device });
                budget = (long)Math.Min(probe.Info.DeviceLocalBytes, long.MaxValue);
                Console.WriteLine($"device {probe.Info.Name}");
            }
            Console.WriteLine($"model {Terminal.Safe(folder.Name)} ({Terminal.Safe(folder.Root)}), {folder.Space} space, {settings.Steps} steps");
            Console.WriteLine(GenerationPlan.Make(parts, settings.Width, settings.Height, settings.Frames, budget.Value).Format());
            return 0;
        }

        bool video = settings.Frames > 1;
        var paths = OutputPaths(output, settings, count, video ? ".gif" : ".png");
        // Checked now so that no work is wasted, and again when each file is published.
        foreach (var p in paths.SelectMany(p => video ? VideoFiles.Paths(p, settings.Frames) : [p])) AtomicFile.Check(p, force);
        if (video && !force)
            foreach (var stale in paths.SelectMany(p => VideoFiles.StaleFrames(p, settings.Frames)))
                throw new UsageException($"{stale} is a frame of an earlier video under this name, which writing this one removes; use --force");

        using var gpu = new Gpu(new GpuOptions { Device = device });
        using var pipeline = new TextToImage(gpu, parts, budget);
        Console.Error.WriteLine($"model {Terminal.Safe(folder.Name)} ({Terminal.Safe(folder.Root)}) on {gpu.Info.Name}");
        _ = pipeline.ModelHash;   // a model folder that cannot be read whole fails now, not after the work
        var planned = pipeline.Plan(settings);
        if (!planned.Fits)
            Console.Error.WriteLine($"note: this generation needs about {GenerationPlan.FormatBytes(planned.PeakBytes)} of device memory, more than the " +
                                    $"{GenerationPlan.FormatBytes(planned.BudgetBytes)} budget; the device may run out (t2x generate --dry-run shows the plan)");
        for (int i = 0; i < count; i++)
        {
            var s = settings with { Seed = settings.Seed + i };
            string size = video ? $"{s.Frames} frames of {s.Width}x{s.Height}" : $"{s.Width}x{s.Height}";
            Console.Error.WriteLine($"seed {s.Seed}: \"{Terminal.Safe(s.Prompt)}\" {size}, {s.Steps} steps, cfg {s.Cfg}");
            var clock = Stopwatch.StartNew();
            var result = pipeline.GenerateFrames(s, (step, total, seconds) =>
                Console.Error.Write($"\r  step {step,3}/{total}  {Bar(step, total)}  {seconds:0.000} s/step "));
            Console.Error.WriteLine();
            foreach (var stage in result.Stages)
                Console.Error.WriteLine($"  {stage.Name}: {stage.Seconds:0.00} s, device peak {GenerationPlan.FormatBytes(stage.PeakBytes)}");
            var plan = result.Plan;
            var frames = result.Frames;
            Console.Error.WriteLine($"  peak device memory {GenerationPlan.FormatBytes(result.Stages.Max(x => x.PeakBytes))} " +
                                    $"(planned {GenerationPlan.FormatBytes(plan.PeakBytes)}, {(plan.KeepResident ? "stages kept loaded" : "stages released in turn")})");
            if (video) VideoFiles.Save(paths[i], frames, s.Width, s.Height, pipeline.Metadata(s), overwrite: force);
            else pipeline.Metadata(s).Save(paths[i], frames[0], s.Width, s.Height, overwrite: force);
            Console.WriteLine($"{paths[i]}  (seed {s.Seed}, {clock.Elapsed.TotalSeconds:0.00} s)" + (video ? $" + {s.Frames} frame PNGs" : ""));
        }
        return 0;
    }

    /// <summary>The most images one command makes.</summary>
    const int MaxCount = 100_000;

    /// <summary>Where each image (.png) or video (.gif) goes: a file path for one, else a folder (default: the current one)
    /// with names made from the prompt and seed.</summary>
    static string[] OutputPaths(string? output, GenerationSettings s, int count, string extension)
    {
        string other = extension == ".png" ? ".gif" : ".png";
        if (output == "-") throw new UsageException($"-o - (standard output) is not supported: give a {extension} file or a folder");
        if (output is not null && output.EndsWith(other, StringComparison.OrdinalIgnoreCase))
            throw new UsageException(extension == ".gif" ? $"a video ({s.Frames} frames) is written as a .gif plus its frames as PNG: give a .gif or a folder, not {output}"
                                                         : $"an image is written as a .png: give a .png or a folder, not {output} (--frames N makes a video)");
        bool isFile = output is not null && output.EndsWith(extension, StringComparison.OrdinalIgnoreCase);
        if (isFile && count > 1) throw new UsageException($"--count {count} writes several files: give a folder to --output, not {output}");
        if (isFile)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(output!))!;
            if (!Directory.Exists(dir)) throw new UsageException($"folder {dir} does not exist");
            return [output!];
        }
        string folder = output ?? ".";
        if (!Directory.Exists(folder) && Path.GetExtension(folder) is { Length: > 0 } ext)
            throw new UsageException($"{folder}: t2x writes {(extension == ".png" ? "PNG" : "GIF")}, not {ext}: give a {extension} file or a folder " +
                                     "(create a folder whose name has a dot first)");
        Directory.CreateDirectory(folder);
        return Enumerable.Range(0, count).Select(i => Path.Combine(folder, $"{OutputNames.Slug(s.Prompt)}-{s.Seed + i}{extension}")).ToArray();
    }

    internal static string Bar(int step, int total)
    {
        int filled = (int)Math.Round(20.0 * step / total);
        return "[" + new string('#', filled) + new string('.', 20 - filled) + "]";
    }
}
