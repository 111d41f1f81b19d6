using System.Diagnostics;
using System.Text.Json;
using T2X.DataGen;
using TorchSharp;
using static TorchSharp.torch;

namespace T2X.Trainer;

public sealed record TrainOptions
{
    public string RunDir { get; init; } = "Tools/Trainer/run";
    public int Steps { get; init; } = 3000;
    public int Batch { get; init; } = 32;
    public double LearningRate { get; init; } = 5e-4;
    public int Warmup { get; init; } = 100;
    public double CaptionDropout { get; init; } = 0.1;
    public double EmaDecay { get; init; } = 0.998;
    public int Seed { get; init; } = 1;
    public int CheckpointEvery { get; init; } = 50;
    public int EvalEvery { get; init; } = 200;
    public int EvalPrompts { get; init; } = 8;
    public int SampleSteps { get; init; } = 20;
    public double Cfg { get; init; } = 4.0;
    public bool TimestepTransform { get; init; } = false;
    public double TransformScale { get; init; } = 1.0;
    public string SampleMethod { get; init; } = "logit-normal";
    /// <summary>Share of each batch trained at t in [HighNoiseFrom·T, T]: there the noisy image shows nothing yet and only
    /// the caption tells what to draw (the sampler's first steps). Without it the model learns to read the picture from
    /// the noise at lower times and hardly ever learns to read the caption.</summary>
    public double HighNoiseShare { get; init; } = 0.0;
    public double HighNoiseFrom { get; init; } = 0.97;
    /// <summary>Share of each batch trained at t in [BandFrom·T, BandTo·T] (after the high-noise share), to train one
    /// range of times more: mid noise, where the caption's shape word decides a blob's outline, or low noise, where
    /// the last sampler steps clean the edges.</summary>
    public double BandShare { get; init; } = 0.0;
    public double BandFrom { get; init; } = 0.15;
    public double BandTo { get; init; } = 0.75;
    /// <summary>Steps at the start that see one-object scenes only (the first object of each scene): a curriculum in which
    /// the caption names one color for one cell, before captions with two objects.</summary>
    public int SingleObjectSteps { get; init; } = 0;
}

/// <summary>
/// The training loop: fresh scenes every step (example index = step·batch + i of the seeded generator), the
/// rectified-flow loss, AdamW with warm-up and cosine decay, an exponential moving average of the weights (what is
/// exported), and a checkpoint (weights, average, optimizer, step) every few hundred steps that a rerun resumes from.
/// </summary>
public sealed class Training(ModelConfig config, TrainOptions options)
{
    string Checkpoint => Path.Combine(options.RunDir, "checkpoint");
    const long NoGcBytes = 200L << 20; // more than one step allocates on the managed heap

    public void Run()
    {
        Directory.CreateDirectory(options.RunDir);
        manual_seed(options.Seed);
        var model = new TextToImage(config);
        var ema = new TextToImage(config);
        CopyWeights(model, ema);
        var parameters = model.parameters().ToArray();
        var optimizer = optim.AdamW(parameters, options.LearningRate, weight_decay: 0.0);
        int step = 0;
        if (File.Exists(Path.Combine(Checkpoint, "state.json")))
        {
            step = JsonSerializer.Deserialize<JsonElement>(File.ReadAllText(Path.Combine(Checkpoint, "state.json"))).GetProperty("step").GetInt32();
            model.load(Path.Combine(Checkpoint, "model.dat"));
            ema.load(Path.Combine(Checkpoint, "ema.dat"));
            optimizer.load_state_dict(Path.Combine(Checkpoint, "optimizer.dat"));
            Log($"resumed from {Checkpoint} at step {step}");
        }
        long paramCount = parameters.Sum(p => p.numel());
        Log($"parameters: {paramCount:N0} (transformer {model.Transformer.parameters().Sum(p => p.numel()):N0}, text encoder {model.TextEncoder.parameters().Sum(p => p.numel()):N0}); threads {get_num_threads()}");

        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        int lossCount = 0, timedSteps = 0;
        while (step < options.Steps)
        {
            // TorchSharp hands temporary Scalars to native ops without keeping them alive, so a collection started from
            // another thread during an op can free one in use (an abort every few hundred steps). Collect between steps
            // only: each step runs in a no-GC region.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.TryStartNoGCRegion(NoGcBytes);
            using (var scope = NewDisposeScope())
            {
                foreach (var group in optimizer.ParamGroups) group.LearningRate = LearningRate(step);
                var (x0, prompts) = Batch(step);
                var (ids, mask) = model.Tokenize(prompts);
                var rng = new Generator((ulong)(options.Seed * 1_000_003L + step));
                var loss = RectifiedFlow.Loss((x, t) => model.Predict(x, t, ids, mask), x0, options.SampleMethod, options.TimestepTransform, options.TransformScale,
                    [new(options.HighNoiseShare, options.HighNoiseFrom, 1), new(options.BandShare, options.BandFrom, options.BandTo)], rng);
                optimizer.zero_grad();
                loss.backward();
                nn.utils.clip_grad_norm_(parameters, 1.0);
                optimizer.step();
                UpdateEma(model, ema, step);
                lossSum += loss.item<float>();
                lossCount++;
            }
            if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
            step++;
            timedSteps++;
            if (step % 10 == 0 || step <= 3)
            {
                Log($"step {step} loss {lossSum / lossCount:F4} lr {LearningRate(step):E2} {clock.Elapsed.TotalSeconds / timedSteps:F2} s/step");
                lossSum = 0; lossCount = 0;
            }
            if (step % options.CheckpointEvery == 0 || step == options.Steps) Save(model, ema, optimizer, step);
            if (step % options.EvalEvery == 0 || step == options.Steps)
            {
                Evaluate(ema, step);
                clock.Restart(); timedSteps = 0;
            }
        }
    }

    double LearningRate(int step)
    {
        if (step < options.Warmup) return options.LearningRate * (step + 1) / options.Warmup;
        double progress = Math.Min(1, (step - options.Warmup) / (double)Math.Max(1, options.Steps - options.Warmup));
        return options.LearningRate * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>Images in [-1, 1] and captions for one step; a share of the captions is dropped to "" for CFG.</summary>
    (Tensor Images, string[] Prompts) Batch(int step)
    {
        int s = config.ImageSize, b = options.Batch;
        var pixels = new float[b * 3 * s * s];
        var prompts = new string[b];
        var dropout = new Random(options.Seed * 7919 + step);
        for (int i = 0; i < b; i++)
        {
            var scene = Scene.ForIndex(options.Seed, (long)step * b + i);
            if (step < options.SingleObjectSteps) scene = scene with { Objects = [scene.Objects[0]] };
            Images.ToPlanar(SceneRenderer.Render(scene, s), s).CopyTo(pixels, i * 3 * s * s);
            prompts[i] = dropout.NextDouble() < options.CaptionDropout ? "" : scene.Caption;
        }
        return (tensor(pixels).view(b, 3, s, s), prompts);
    }

    void UpdateEma(TextToImage model, TextToImage ema, int step)
    {
        double decay = Math.Min(options.EmaDecay, (1 + step) / (10.0 + step)); // short memory at the start
        using var noGrad = no_grad();
        foreach (var (p, e) in model.parameters().Zip(ema.parameters())) e.mul_(decay).add_(p, alpha: 1 - decay);
    }

    static void CopyWeights(TextToImage from, TextToImage to)
    {
        using var noGrad = no_grad();
        foreach (var (p, e) in from.parameters().Zip(to.parameters())) e.copy_(p);
    }

    void Save(TextToImage model, TextToImage ema, TorchSharp.Modules.AdamW optimizer, int step)
    {
        SaveCheckpoint(options.RunDir, config, model, ema, optimizer, step);
        Log($"checkpoint at step {step}");
    }

    /// <summary>Writes &lt;run&gt;/checkpoint (weights, average, optimizer, config, step) through a temporary folder, so
    /// that a crash leaves either the old checkpoint or the new one.</summary>
    public static void SaveCheckpoint(string runDir, ModelConfig config, TextToImage model, TextToImage ema, TorchSharp.Modules.AdamW optimizer, int step)
    {
        string checkpoint = Path.Combine(runDir, "checkpoint"), temp = checkpoint + ".tmp", old = checkpoint + ".old";
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(temp);
        model.save(Path.Combine(temp, "model.dat"));
        ema.save(Path.Combine(temp, "ema.dat"));
        optimizer.save_state_dict(Path.Combine(temp, "optimizer.dat"));
        File.WriteAllText(Path.Combine(temp, "config.json"), JsonSerializer.Serialize(config));
        File.WriteAllText(Path.Combine(temp, "state.json"), JsonSerializer.Serialize(new { step }));
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(checkpoint)) Directory.Move(checkpoint, old);
        Directory.Move(temp, checkpoint);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    /// <summary>Samples prompts with a background phrase (the measure) from the averaged weights and scores them.</summary>
    void Evaluate(TextToImage ema, int step)
    {
        var clock = Stopwatch.StartNew();
        var rng = new Random(12345);
        var prompts = Enumerable.Range(0, options.EvalPrompts).Select(_ =>
        {
            var scene = Scene.Random(rng);
            return (scene with { BackgroundNamed = true }).Caption;
        }).ToArray();
        var images = ema.Generate(prompts, options.SampleSteps, options.Cfg, seed: 7, options.TimestepTransform, options.TransformScale);
        var (colors, shapes) = TextToImage.Adherence(prompts, images, config.ImageSize);
        Images.SaveGrid(Path.Combine(options.RunDir, $"samples-{step:D5}.png"), images, config.ImageSize, columns: 8);
        File.WriteAllLines(Path.Combine(options.RunDir, $"samples-{step:D5}.txt"), prompts);
        Log($"eval step {step}: colors {colors:P0}, shapes {shapes:P0} on {prompts.Length} prompts ({clock.Elapsed.TotalSeconds:F1} s)");
    }

    void Log(string line)
    {
        string text = $"{DateTime.UtcNow:HH:mm:ss} {line}";
        Console.WriteLine(text);
        File.AppendAllText(Path.Combine(options.RunDir, "train.log"), text + Environment.NewLine);
    }
}
