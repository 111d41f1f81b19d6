using System.Globalization;
using T2X.Vulkan;
using T2X.Vulkan.Batch;
using T2X.Vulkan.Pipelines;

namespace T2X.Host.Commands;

/// <summary>t2x batch PROMPTS --output DIR: a prompt list (.txt or .jsonl) into a folder of PNGs with a manifest; resumable,
/// shardable over a cluster scheduler's job array, one worker per device. t2x batch --merge DIR joins shard manifests.</summary>
public static class BatchCommand
{
    public static readonly string Usage = $$"""
        t2x batch PROMPTS.txt|PROMPTS.jsonl -o|--output DIR [--model DIR] [--seed N] [--steps N] [--cfg X] [--width PX] [--height PX]
                  [--negative-prompt TEXT] [--batch N|auto] [--devices all|0,2|name,...] [--shard I/N|auto [--shards N]]
                  [--memory-budget GIB] [--force]
        t2x batch --merge DIR
          PROMPTS         .txt: one prompt a line; .jsonl: one request a line with generate's fields, e.g.
                          {"prompt": "a red circle", "negative_prompt": "", "seed": 7, "steps": 20, "cfg": 4, "width": 64, "height": 64}
                          blank lines are skipped; a bad line is reported, recorded in the manifest and skipped
          --output DIR    images NNNNNN-slug.png (NNNNNN: the line number) with their settings as PNG metadata, and
                          DIR/manifest.jsonl: every line's outcome (file, seed, seconds, or its error)
          --seed N        a line without a seed gets N + line - 1 (default 0), so reruns make the same images
          --batch N|auto  requests of the same size and steps made in one pass (auto: the largest that fits the memory
                          plan, at most {{BatchRun.DefaultBatchLimit}} on a GPU, 1 on a CPU device such as lavapipe, where batches
                          measured no faster); every image is byte-identical to the same request made alone
          --devices LIST  one worker per Vulkan device, each with its own copy of the model, sharing one queue: all, or
                          indices/names from t2x devices separated by commas (an index twice opens that device twice)
          --shard I/N     only the lines L with (L - 1) mod N = I; shards share DIR, each writing its own images and
                          DIR/manifest-shard-I-of-N.jsonl
          --shard auto    I and N from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX; N from --shards or T2X_SHARDS)
                          or a Slurm job array (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT)
          --merge DIR     merge the shards' manifests into DIR/manifest.jsonl (one record per line)
          rerunning the same command resumes: images whose metadata matches their line are kept, cut-short ones made
          again; an image made with other settings is reported and kept unless --force
        """;

    public static int Run(Args a)
    {
        if (a.Help(Usage)) return 0;
        if (a.Option("merge") is { } mergeDir)
        {
            a.Done();
            return Merge(mergeDir);
        }
        string? output = a.Option("output");
        string? negative = a.Option("negative-prompt");
        int? steps = a.IntOrNull("steps", 1, GenerationSettings.MaxSteps), width = a.IntOrNull("width", 1, GenerationSettings.MaxSide),
            height = a.IntOrNull("height", 1, GenerationSettings.MaxSide);
        double? cfg = a.DoubleOrNull("cfg", -GenerationSettings.MaxCfg, GenerationSettings.MaxCfg);
        long seed = a.Long("seed", 0);
        string batchText = a.Option("batch") ?? "auto";
        string? devicesText = a.Option("devices"), device = a.Option("device");
        string? shardText = a.Option("shard");
        int? shards = a.IntOrNull("shards", 1, Shard.MaxCount);
        long? budget = a.Gib("memory-budget");
        bool force = a.Flag("force");
        string modelDir = a.Option("model") ?? ModelFolder.BuiltinPath;
        a.Done(maxPositional: 1);

        if (a.Positional.Count == 0) throw new UsageException("no prompt list: t2x batch PROMPTS.txt --output DIR\n" + Usage);
        if (output is null) throw new UsageException("--output DIR is required: the folder the images and manifest.jsonl go to");
        if (File.Exists(output)) throw new UsageException($"--output {output} is a file; give a folder");
        if (devicesText is not null && device is not null) throw new UsageException("give --devices or --device, not both");
        int? batch = batchText == "auto" ? null
            : int.TryParse(batchText, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= GenerationPlan.MaxBatch ? n
            : throw new UsageException($"--batch expects a number from 1 to {GenerationPlan.MaxBatch} or auto, got '{batchText}'");
        Shard shard;
        try
        {
            shard = shardText is null ? (shards is null ? Shard.All : throw new UsageException("--shards N goes with --shard auto"))
                : shardText == "auto" ? Shard.FromEnvironment(Environment.GetEnvironmentVariable, shards)
                : shards is null ? Shard.Parse(shardText) : throw new UsageException("--shards N goes with --shard auto (--shard I/N names the count itself)");
        }
        catch (ArgumentException e) { throw new UsageException(e.Message); }

        var indices = DeviceList(devicesText ?? device);
        var folder = ModelFolder.Open(modelDir);
        var parts = ModelParts.Read(folder);
        var defaults = folder.Defaults with
        {
            Negative = negative ?? folder.NegativePrompt,
            Steps = steps ?? folder.Steps,
            Cfg = cfg ?? folder.Cfg,
            Width = width ?? folder.Width,
            Height = height ?? folder.Height,
            Frames = 1,
        };
        try
        {
            defaults.Validated();
            parts.CheckSize(defaults.Width, defaults.Height, 1);
        }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        string list = a.Positional[0];
        var all = PromptList.Read(list, defaults, seed, s => parts.CheckSize(s.Width, s.Height, s.Frames));
        var lines = PromptList.Select(all, shard);

        var gpus = new List<Gpu>();
        var workers = new List<TextToImage>();
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
            Console.Error.WriteLine("\nstopping after the current step; rerun the same command to resume");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            foreach (var i in indices)
            {
                var gpu = new Gpu(new GpuOptions { Device = i });
                gpus.Add(gpu);
                workers.Add(new TextToImage(gpu, parts, budget));
            }
            _ = workers[0].ModelHash;   // a model folder that cannot be read whole fails now, not after the work
            string where = string.Join(", ", workers.Select((w, k) => $"worker {k}: [{w.Gpu.Info.Index}] {w.Gpu.Info.Name}"));
            Console.Error.WriteLine($"model {Terminal.Safe(folder.Name)} ({Terminal.Safe(folder.Root)}); {where}");
            Console.Error.WriteLine($"{Terminal.Safe(list)}: {all.Count} requests{(shard.IsWhole ? "" : $", shard {shard}: {lines.Count} of them")}; " +
                                    $"batch {(batch?.ToString(CultureInfo.InvariantCulture) ?? "auto")}, output {Terminal.Safe(output)}");
            var report = new Report();
            var summary = BatchRun.Run(lines, workers, new BatchOptions(output) { Shard = shard, BatchSize = batch, Force = force }, report, cancel.Token);
            report.End();
            Console.Error.WriteLine($"{summary.Images} images made in {summary.Seconds:0.0} s ({summary.Images / Math.Max(summary.Seconds, 1e-9):0.00} images/s), " +
                                    $"{summary.AlreadyMade} already there, {summary.BadLines} lines skipped, {summary.Failed} failed; " +
                                    $"manifest {Terminal.Safe(Path.Combine(output, shard.ManifestName))}");
            return summary.Failed > 0 ? Errors.DeviceOrMemory : 0;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("t2x batch: stopped; rerun the same command to resume");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            foreach (var w in workers) w.Dispose();
            foreach (var g in gpus) g.Dispose();
        }
    }

    /// <summary>The devices the workers open, as GpuOptions.Device strings: "all" is every device; otherwise indices or
    /// names separated by commas (the same one twice opens it twice: two logical devices, e.g. to test on one lavapipe);
    /// null is the default device.</summary>
    public static IReadOnlyList<string?> DeviceList(string? text)
    {
        if (text is null) return [null];
        var infos = Gpu.ListDevices();
        if (text.Trim() == "all") return infos.Select(i => (string?)i.Index.ToString(CultureInfo.InvariantCulture)).ToList();
        var result = new List<string?>();
        foreach (var part in text.Split(','))
        {
            if (string.IsNullOrWhiteSpace(part)) throw new UsageException($"--devices {text}: an empty entry; give all, or indices or names separated by commas");
            try { result.Add(Gpu.Choose(infos, part.Trim()).ToString(CultureInfo.InvariantCulture)); }
            catch (ArgumentException e) { throw new UsageException($"--devices: {e.Message}"); }
        }
        return result;
    }

    static int Merge(string dir)
    {
        var r = BatchManifest.Merge(dir);
        Console.WriteLine($"{Path.Combine(dir, Shard.All.ManifestName)}: {r.Images} images, {r.Errors} errors from {r.Manifests} shard manifests" +
                          (r.SkippedLines > 0 ? $" ({r.SkippedLines} cut-short lines skipped)" : ""));
        if (r.MissingShards.Count == 0) return 0;
        Console.Error.WriteLine($"t2x batch: no manifest from shard{(r.MissingShards.Count > 1 ? "s" : "")} {string.Join(", ", r.MissingShards)}: " +
                                "did it run? (the merged manifest lacks its lines)");
        return Errors.BadInput;
    }

    /// <summary>Prints each line's outcome (images on standard output, as generate does) and a progress bar on standard
    /// error: in place on a terminal, one line per image otherwise.</summary>
    sealed class Report : IBatchReport
    {
        readonly bool _terminal = !Console.IsErrorRedirected;
        bool _barShown;

        public void Recorded(ManifestRecord r, string? path, bool earlier)
        {
            if (_barShown) { Console.Error.WriteLine(); _barShown = false; }
            if (r.IsOk && earlier) Console.Error.WriteLine($"line {r.Line}: {Terminal.Safe(path ?? r.File ?? "")} already made");
            else if (r.IsOk) Console.WriteLine($"{path}  (line {r.Line}, seed {r.Seed}, {r.Seconds:0.00} s)");
            else Console.Error.WriteLine($"line {r.Line}: {Terminal.Safe(r.Error ?? "error")}{(earlier ? " (as before)" : "")}");
        }

        public void Progress(BatchProgress p)
        {
            if (p.Total == 0) return;
            string left = p.Left is { } t ? $", {(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00} left" : "";
            string line = $"{GenerateCommand.Bar(p.Done, p.Total)} {p.Done}/{p.Total} images, {p.ImagesPerSecond:0.00} images/s{left}";
            if (_terminal) { Console.Error.Write($"\r{line}   "); _barShown = true; }
            else Console.Error.WriteLine(line);
        }

        public void End()
        {
            if (_barShown) Console.Error.WriteLine();
        }
    }
}
