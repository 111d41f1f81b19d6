using System.Diagnostics;
using System.Text;
using T2X.Vulkan;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Pipelines;

namespace T2X.Host.Commands;

/// <summary>t2x generate "prompt": text to PNG with the built-in model or a model folder.</summary>
public static class GenerateCommand
{
    public const string Usage =
        "t2x generate \"prompt\" [--negative-prompt TEXT] [--steps N] [--cfg X] [--seed N] [--width PX] [--height PX]\n" +
        "             [--count N] [-o|--output FILE.png|DIR] [--force] [--model DIR] [--device N|name] [--from IMAGE.png]";

    public static int Run(Args a)
    {
        string? from = a.Option("from");
        string? promptOption = a.Option("prompt");
        string? negative = a.Option("negative-prompt");
        string? steps = a.Option("steps"), cfg = a.Option("cfg"), seedText = a.Option("seed");
        string? widthText = a.Option("width"), heightText = a.Option("height");
        int count = a.Int("count", 1);
        string? output = a.Option("output");
        bool force = a.Flag("force");
        string modelDir = a.Option("model") ?? ModelFolder.BuiltinPath;
        string? device = a.Option("device");
        a.Done(maxPositional: 1);
        if (count < 1) throw new UsageException($"--count must be at least 1, got {count}");

        string? prompt = a.Positional.Count > 0 ? a.Positional[0] : null;
        if (prompt is not null && promptOption is not null) throw new UsageException("give the prompt once: as an argument or with --prompt");
        prompt ??= promptOption;
        var recorded = from is null ? null : PngMetadata.Read(from);
        if (prompt is null && recorded is null) throw new UsageException("no prompt: t2x generate \"a red circle in the center\" (or --from IMAGE.png)\n" + Usage);

        var folder = ModelFolder.Open(modelDir);
        using var gpu = new Gpu(new GpuOptions { Device = device });
        var load = Stopwatch.StartNew();
        using var pipeline = new TextToImage(gpu, folder);
        Console.Error.WriteLine($"model {folder.Name} ({folder.Root}) on {gpu.Info.Name}, loaded in {load.Elapsed.TotalSeconds:0.00} s");

        var basis = recorded?.Settings ?? pipeline.Defaults;
        if (recorded is not null && recorded.Model != folder.Name)
            Console.Error.WriteLine($"note: {from} was made with model '{recorded.Model}', this is '{folder.Name}'");
        var settings = basis with
        {
            Prompt = prompt ?? basis.Prompt,
            Negative = negative ?? basis.Negative,
            Steps = steps is null ? basis.Steps : ParseInt(steps, "steps"),
            Cfg = cfg is null ? basis.Cfg : ParseDouble(cfg, "cfg"),
            Seed = seedText is null ? (recorded?.Settings.Seed ?? Random.Shared.NextInt64(0, 1L << 53)) : ParseLong(seedText, "seed"),
            Width = widthText is null ? basis.Width : ParseInt(widthText, "width"),
            Height = heightText is null ? basis.Height : ParseInt(heightText, "height"),
        };
        try
        {
            settings.Validated();
            pipeline.CheckSize(settings.Width, settings.Height);
        }
        catch (ArgumentException e) { throw new UsageException(e.Message); }

        var paths = OutputPaths(output, settings, count);
        foreach (var p in paths)
            if (File.Exists(p) && !force) throw new UsageException($"{p} exists; use --force to overwrite it");

        for (int i = 0; i < count; i++)
        {
            var s = settings with { Seed = settings.Seed + i };
            Console.Error.WriteLine($"seed {s.Seed}: \"{s.Prompt}\" {s.Width}x{s.Height}, {s.Steps} steps, cfg {s.Cfg}");
            var clock = Stopwatch.StartNew();
            var rgb = pipeline.GenerateRgb(s, (step, total, seconds) =>
                Console.Error.Write($"\r  step {step,3}/{total}  {Bar(step, total)}  {seconds:0.000} s/step "));
            Console.Error.WriteLine();
            pipeline.Metadata(s).Save(paths[i], rgb, s.Width, s.Height);
            Console.WriteLine($"{paths[i]}  (seed {s.Seed}, {clock.Elapsed.TotalSeconds:0.00} s)");
        }
        return 0;
    }

    /// <summary>Where each image goes: a .png path for one image, else a folder (default: the current one) with
    /// names made from the prompt and seed.</summary>
    static string[] OutputPaths(string? output, Vulkan.Pipelines.GenerationSettings s, int count)
    {
        bool isFile = output is not null && output.EndsWith(".png", StringComparison.OrdinalIgnoreCase);
        if (isFile && count > 1) throw new UsageException($"--count {count} writes several images: give a folder to --output, not {output}");
        if (isFile)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(output!))!;
            if (!Directory.Exists(dir)) throw new UsageException($"folder {dir} does not exist");
            return [output!];
        }
        string folder = output ?? ".";
        Directory.CreateDirectory(folder);
        return Enumerable.Range(0, count).Select(i => Path.Combine(folder, $"{Slug(s.Prompt)}-{s.Seed + i}.png")).ToArray();
    }

    static string Slug(string prompt)
    {
        var sb = new StringBuilder();
        foreach (char ch in prompt.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(ch)) sb.Append(ch);
            else if (sb.Length > 0 && sb[^1] != '-') sb.Append('-');
            if (sb.Length >= 60) break;
        }
        var slug = sb.ToString().Trim('-');
        return slug.Length == 0 ? "t2x" : slug;
    }

    static string Bar(int step, int total)
    {
        int filled = (int)Math.Round(20.0 * step / total);
        return "[" + new string('#', filled) + new string('.', 20 - filled) + "]";
    }

    static int ParseInt(string v, string name) => int.TryParse(v, out int n) ? n : throw new UsageException($"--{name} expects an integer, got '{v}'");
    static long ParseLong(string v, string name) => long.TryParse(v, out long n) ? n : throw new UsageException($"--{name} expects an integer, got '{v}'");
    static double ParseDouble(string v, string name) =>
        double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d) ? d
        : throw new UsageException($"--{name} expects a number, got '{v}'");
}
