using T2X.DataGen;
using T2X.Vulkan;
using T2X.Vulkan.Batch;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Weights;

namespace T2X.Benchmarks;

/// <summary>
/// Throughput of batched generation (issue 18), each figure beside one-at-a-time generation measured in the same run
/// (the two take turns, so load on a shared machine hits both alike):
/// <list type="bullet">
/// <item>builtin: <c>t2x batch</c>'s path (BatchRun: PNGs and manifest written) over 8 grammar prompts with the built-in
/// model at its defaults (64², 20 steps), --batch 2, 4, 8 against --batch 1 (one image at a time, model kept loaded),
/// and all of them against <c>t2x generate</c> run once per prompt (a process each: what one does without t2x batch).</item>
/// <item>released-width: the PT-DiT sampler at the released width (D 1152, 16 × 72 heads, 200 text tokens, random bf16
/// weights, <see cref="ReleasedLayers"/> of the 28 blocks), 256², 2 steps: 8 requests in one batch against 8 batches of 1.</item>
/// </list>
/// </summary>
public sealed class BatchBench : IBench
{
    public string Name => "batch";
    const int Requests = 8, TextLength = 200, ReleasedLayers = 2;

    public IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options)
    {
        int repeats = options.Quick ? 1 : Math.Min(options.Repeats, 2);
        foreach (var row in Builtin(gpu, repeats)) yield return row;
        yield return ReleasedWidth(gpu, options.Quick ? 1 : Math.Min(options.Repeats, 2));
    }

    sealed class Quiet : IBatchReport
    {
        public void Recorded(ManifestRecord record, string? path, bool earlier) { }
        public void Progress(BatchProgress progress) { }
    }

    /// <summary>The batch sizes measured against one at a time (the first).</summary>
    static readonly int[] Sizes = [1, 2, 4, Requests];

    IEnumerable<BenchResult> Builtin(Gpu gpu, int repeats)
    {
        using var pipeline = new TextToImage(gpu, ModelFolder.Open(ModelFolder.BuiltinPath));
        var defaults = pipeline.Defaults;
        var lines = Enumerable.Range(0, Requests)
            .Select(i => new PromptLine(i + 1, defaults with { Prompt = Scene.ForIndex(2026, i).Caption, Seed = i }, null)).ToList();
        string root = Path.Combine(Path.GetTempPath(), $"t2x-bench-batch-{Guid.NewGuid():N}");
        int run = 0;
        Action Batch(int size) => () =>
        {
            string dir = Path.Combine(root, $"{run++}");   // a fresh folder each time: nothing to resume
            BatchRun.Run(lines, [pipeline], new BatchOptions(dir) { BatchSize = size }, new Quiet());
        };
        // What one does without t2x batch: t2x generate once per prompt, a process each (start, model load, one image).
        string t2x = Path.Combine(AppContext.BaseDirectory, "t2x.dll");
        bool processes = File.Exists(t2x);
        Action Generate = () =>
        {
            string dir = Path.Combine(root, $"{run++}");
            Directory.CreateDirectory(dir);
            foreach (var line in lines)
            {
                var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var arg in new[] { t2x, "generate", line.Request!.Prompt, "--seed", $"{line.Request.Seed}", "-o", Path.Combine(dir, $"{line.Line}.png") })
                    psi.ArgumentList.Add(arg);
                using var p = System.Diagnostics.Process.Start(psi)!;
                var output = p.StandardError.ReadToEndAsync();
                p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0) throw new InvalidOperationException($"t2x generate failed: {output.Result}");
            }
        };
        double[] t;
        try
        {
            t = Benches.Medians([.. Sizes.Select(Batch), .. processes ? [Generate] : Array.Empty<Action>()], repeats);
        }
        finally { if (Directory.Exists(root)) Directory.Delete(root, true); }
        for (int i = 0; i < Sizes.Length; i++)
        {
            var row = new BenchResult(Name).With("model", "builtin").With("size", defaults.Width).With("steps", defaults.Steps)
                .With("images", Requests).With("batch", Sizes[i]).With("images_per_s", Requests / t[i])
                .With("one_at_a_time_images_per_s", Requests / t[0]).With("ratio", t[0] / t[i]);
            if (processes) row.With("generate_process_per_prompt_images_per_s", Requests / t[^1]).With("ratio_to_generate_processes", t[^1] / t[i]);
            yield return row;
        }
    }

    BenchResult ReleasedWidth(Gpu gpu, int repeats)
    {
        const int px = 256, steps = 2;
        var config = PtDitConfig.Released with { NumLayers = ReleasedLayers };
        using var model = new PtDitModel(gpu, PtDitWeights.Upload(gpu, config, PtDitRandomCheckpoint.Create(config, seed: 1, DType.BF16)));
        int latent = px / 8;
        var schedule = new RectifiedFlowSchedule(new SamplerOptions { Steps = steps, CfgScale = 4 }, px, px);
        float[] Text(int batch) => GaussianNoise.Generate(3, 2L * batch * TextLength * config.CaptionChannels);
        float[] Noise(int batch) => GaussianNoise.Generate(4, (long)batch * config.InChannels * latent * latent);
        using var one = new RectifiedFlowSampler(model, 1, 1, latent, latent, TextLength, 4.0);
        using var many = new RectifiedFlowSampler(model, Requests, 1, latent, latent, TextLength, 4.0);
        var text1 = Text(1);
        int half1 = text1.Length / 2;
        one.SetText(text1[..half1], [], text1[half1..], []);
        var textN = Text(Requests);
        int halfN = textN.Length / 2;
        many.SetText(textN[..halfN], [], textN[halfN..], []);
        var noise1 = Noise(1);
        var noiseN = Noise(Requests);
        var t = Benches.Medians(
        [
            () => { for (int i = 0; i < Requests; i++) one.Sample(schedule, noise1); },
            () => many.Sample(schedule, noiseN),
        ], repeats);
        return new BenchResult(Name).With("model", $"released width, random bf16, {ReleasedLayers} of 28 blocks, transformer stage")
            .With("size", px).With("steps", steps).With("images", Requests)
            .With("one_at_a_time_images_per_s", Requests / t[0]).With($"batch{Requests}_images_per_s", Requests / t[1]).With("ratio", t[0] / t[1]);
    }
}
