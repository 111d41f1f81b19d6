using System.Text.Json;
using T2X.Vulkan;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Weights;

namespace T2X.Benchmarks;

/// <summary>
/// A PT-DiT layer at the released width (issue 15): D 1152, 16 heads × 72, caption_channels 4096, the released window and
/// proxies, batch 2 (the guidance pair), 200 text tokens, at 512² and 1024² (1,024 and 4,096 tokens per sample) with f32
/// and bf16 weights; `--quick`: 512² f32. Per row:
/// <list type="bullet">
/// <item>layer_s: the engine's time per layer, (3-layer forward − 1-layer forward) / 2 of the recorded forward pass
/// (PtDitModel.Prepare → PtDitRun.Run, each the median of up to 3 runs after a warm-up, the two models taking turns so
/// that a shared machine's changing load hits both alike), so the embeddings and the final layer cancel; gflops: the
/// block's GEMM and attention FLOPs (PtDitAttentionBench.BlockFlops) over it.</item>
/// <item>*_share: the layer's time split by op class, from per-dispatch timestamps of one profiled forward of each
/// model, differenced the same way: GEMM, attention (dense: proxy, proxy-to-visual and text; window: window and
/// shifted-window), norms and element-wise (everything else); profiled_layer_s is their sum.</item>
/// <item>torch_*: PyTorch CPU eager on the same weights and inputs (Tools/Benchmarks/ptdit_layer.py under Debian's
/// python3-torch), its output first checked against the engine's (torch_rel_error, torch_check), timed the same way
/// (it also computes every block's text keys and values per forward, as the official code does); ratio is
/// layer_s / torch_layer_s. Skipped with a note where PyTorch is not installed. torch_blas names the kernel OpenBLAS
/// ran: run the bench as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE t2x bench --only ptdit` so that it picks its best
/// kernel for the CPU rather than a forced one.</item>
/// </list>
/// </summary>
public sealed class PtDitBench : IBench
{
    public string Name => "ptdit";

    const int Batch = 2, TextLength = 200;

    /// <summary>The largest relative error (whole output) at which PyTorch's output counts as the engine's (f32 math on
    /// the same weights).</summary>
    public const double TorchTolerance = 1e-4;

    public IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options)
    {
        (int px, DType dtype)[] cases = options.Quick ? [(512, DType.F32)]
            : [(512, DType.F32), (512, DType.BF16), (1024, DType.F32), (1024, DType.BF16)];
        int repeats = Math.Min(options.Repeats, 3);
        bool torch = SystemPyTorch.Installed();
        foreach (var (px, dtype) in cases)
        {
            var layer = new PtDitLayerCase(PtDitConfig.Released, px / 8, dtype, Batch, TextLength);
            var engine = MeasureEngine(gpu, layer, repeats);
            var row = new BenchResult(Name).With("size", px).With("dtype", dtype.ToString().ToLowerInvariant())
                .With("tokens", layer.TokensPerSample).With("batch", Batch).With("text", TextLength)
                .With("layer_s", engine.LayerSeconds).With("gflops", layer.LayerFlops / engine.LayerSeconds / 1e9);
            var share = engine.ClassSeconds;
            double profiled = share.Values.Sum();
            row.With("gemm_share", share[Gemm] / profiled)
               .With("attention_share", (share[DenseAttention] + share[WindowAttention]) / profiled)
               .With("dense_attention_share", share[DenseAttention] / profiled)
               .With("window_attention_share", share[WindowAttention] / profiled)
               .With("norms_share", share[Norms] / profiled)
               .With("profiled_layer_s", profiled);
            if (!torch)
                row.With("torch", "skipped: PyTorch is not installed for /usr/bin/python3 (apt-get install python3-torch)");
            else
            {
                var t = MeasureTorch(layer, engine.Output, repeats);
                row.With("torch_layer_s", t.LayerSeconds).With("ratio", engine.LayerSeconds / t.LayerSeconds)
                   .With("torch_rel_error", t.RelError).With("torch_check", t.RelError <= TorchTolerance ? "pass" : $"FAIL (> {TorchTolerance})")
                   .With("torch_blas", t.Blas).With("torch_threads", t.Threads).With("torch_version", t.Version).With("torch_device", t.Device);
            }
            yield return row;
        }
    }

    public const string Gemm = "gemm", DenseAttention = "dense_attention", WindowAttention = "window_attention", Norms = "norms";

    /// <summary>The op class of a dispatch, by its label (the shader's name: gemm_*, window_attention*, *attention*).</summary>
    public static string OpClass(string label)
        => label.StartsWith("gemm", StringComparison.Ordinal) ? Gemm
         : label.StartsWith("window_attention", StringComparison.Ordinal) ? WindowAttention
         : label.Contains("attention", StringComparison.Ordinal) ? DenseAttention
         : Norms;

    /// <summary>The engine's figures for one case: seconds per layer, per layer and op class (from timestamps), and the
    /// output of the <see cref="PtDitLayerCase.Layers"/>-block model (for the PyTorch check).</summary>
    public sealed record EngineLayer(double LayerSeconds, IReadOnlyDictionary<string, double> ClassSeconds, float[] Output);

    /// <summary>Times the recorded forward of a 1-block and an n-block model on the same weights (the first model uses
    /// the checkpoint's block 0 and top-level tensors), taking turns, then profiles one forward of each.</summary>
    public static EngineLayer MeasureEngine(Gpu gpu, PtDitLayerCase layer, int repeats)
    {
        int[] layerCounts = [1, PtDitLayerCase.Layers];
        var owned = new List<IDisposable>();
        try
        {
            var runs = new List<PtDitRun>();
            foreach (int layers in layerCounts)
            {
                var model = new PtDitModel(gpu, PtDitWeights.Upload(gpu, layer.Config with { NumLayers = layers }, layer.Weights));
                owned.Add(model);
                var run = model.Prepare(layer.Batch, 1, layer.Latent, layer.Latent, layer.TextLength);
                owned.Add(run);
                run.SetText(layer.Text, layer.Mask);
                run.SetTimesteps(layer.Timestep);
                run.Latents.Upload(layer.Latents);
                runs.Add(run);
            }
            var seconds = Benches.Medians(runs.Select(r => (Action)r.Run).ToList(), repeats);
            var classes = runs.Select(Profile).ToList();
            double PerLayer(double one, double all) => (all - one) / (PtDitLayerCase.Layers - 1);
            return new EngineLayer(PerLayer(seconds[0], seconds[1]),
                classes[0].ToDictionary(c => c.Key, c => PerLayer(c.Value, classes[1][c.Key])), runs[1].Output.ToArray());
        }
        finally
        {
            for (int i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
        }
    }

    /// <summary>Seconds per op class of one forward, from per-dispatch timestamps.</summary>
    static Dictionary<string, double> Profile(PtDitRun run)
    {
        using var profiled = new Sequence(run.Model.Gpu, profile: true);
        run.RecordForward(profiled);
        profiled.Run();
        var classes = new[] { Gemm, DenseAttention, WindowAttention, Norms }.ToDictionary(c => c, _ => 0.0);
        foreach (var (label, ms) in profiled.Timings()) classes[OpClass(label)] += ms / 1e3;
        return classes;
    }

    /// <summary>PyTorch's figures for one case (see ptdit_layer.py).</summary>
    public sealed record TorchLayer(double LayerSeconds, double RelError, string Blas, int Threads, string Version, string Device = "cpu");

    /// <summary>Writes the case's weights and inputs and the engine's output, and runs Tools/Benchmarks/ptdit_layer.py
    /// on them under Debian's PyTorch (<see cref="SystemPyTorch"/>).</summary>
    public static TorchLayer MeasureTorch(PtDitLayerCase layer, float[] engineOutput, int repeats)
    {
        string dir = Directory.CreateTempSubdirectory("t2x-ptdit-bench-").FullName;
        try
        {
            string weights = Path.Combine(dir, "weights.safetensors"), inputs = Path.Combine(dir, "case.safetensors");
            SafeTensors.Write(weights, layer.Weights.Select(kv => (kv.Key, kv.Value)));
            var c = layer.Config;
            long B = layer.Batch, L = layer.TextLength, S = layer.Latent;
            SafeTensors.Write(inputs, [
                ("latents", HostTensor.FromFloat32(layer.Latents, B, c.InChannels, 1, S, S)),
                ("timestep", HostTensor.FromFloat32(layer.Timestep, B)),
                ("text", HostTensor.FromFloat32(layer.Text, B, L, c.CaptionChannels)),
                ("mask", HostTensor.FromFloat32(layer.Mask, B, L)),
                ("output", HostTensor.FromFloat32(engineOutput, B, c.OutChannels, 1, S, S)),
            ]);
            string script = Path.Combine(AppContext.BaseDirectory, "Tools", "Benchmarks", "ptdit_layer.py");
            var (code, stdout, stderr) = SystemPyTorch.Run([script, "--weights", weights, "--case", inputs,
                "--heads", $"{c.NumHeads}", "--window", $"{c.CompressRatios[1]}", "--repeats", $"{repeats}", "--threads", $"{Environment.ProcessorCount}", "--device", SystemPyTorch.Device]);
            if (code != 0) throw new InvalidOperationException($"{script} failed (exit {code}):\n{stderr}");
            using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
            var r = json.RootElement;
            string blas = r.GetProperty("blas").GetString()!;
            if (r.GetProperty("blas_threads").ValueKind == JsonValueKind.Number) blas += $", {r.GetProperty("blas_threads").GetInt32()} threads";
            return new TorchLayer(r.GetProperty("layer_s").GetDouble(), r.GetProperty("rel_error").GetDouble(), blas,
                r.GetProperty("threads").GetInt32(), r.GetProperty("torch").GetString()!,
                r.TryGetProperty("device", out var d) ? d.GetString()! : "cpu");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>
/// The weights and inputs one PT-DiT layer measurement runs on: a random checkpoint of <see cref="Layers"/> blocks in the
/// official layout (PtDitRandomCheckpoint, stored in <see cref="DType"/>), latents [B, C, 1, S, S], one timestep for the
/// batch (as in sampling), text [B, L, caption_channels] and its mask (the second sample keeps one token, like the
/// empty negative prompt). Deterministic.
/// </summary>
public sealed class PtDitLayerCase
{
    public const int Layers = 3;
    public PtDitConfig Config { get; }
    /// <summary>Latent side S (pixels / 8).</summary>
    public int Latent { get; }
    public DType DType { get; }
    public int Batch { get; }
    public int TextLength { get; }
    public Dictionary<string, HostTensor> Weights { get; }
    public float[] Latents { get; }
    public float[] Timestep { get; }
    public float[] Text { get; }
    public float[] Mask { get; }

    public PtDitLayerCase(PtDitConfig config, int latent, DType dtype, int batch, int textLength)
    {
        (Config, Latent, DType, Batch, TextLength) = (config with { NumLayers = Layers }, latent, dtype, batch, textLength);
        Weights = PtDitRandomCheckpoint.Create(Config, seed: 1, dtype);
        Latents = GaussianNoise.Generate(2, (long)batch * config.InChannels * latent * latent);
        Timestep = Enumerable.Repeat(500f, batch).ToArray();
        Text = GaussianNoise.Generate(3, (long)batch * textLength * config.CaptionChannels);
        Mask = new float[batch * textLength];
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < textLength; j++) Mask[b * textLength + j] = b == 0 || j == 0 ? 1 : 0;
    }

    public int TokensPerSample => Latent / Config.PatchSize * (Latent / Config.PatchSize);

    /// <summary>GEMM and attention FLOPs of one block for the whole batch.</summary>
    public double LayerFlops => PtDitAttentionBench.BlockFlops(Config, TokensPerSample, TextLength, AttentionMode.Proxy) * Batch;
}
