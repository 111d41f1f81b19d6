using T2X.Vulkan;
using T2X.Vulkan.Models.PtDit;

namespace T2X.Benchmarks;

/// <summary>
/// PT-DiT's proxy-token attention against the global (PixArt-α / DiT) attention mode of the same model, as issue 3
/// asks: the per-step time of the recorded forward pass at the released width (D = 1152, 16 heads) at 256, 512, 1024
/// and 2048 px with the paper's window per size ((1,2,2), (1,4,4), (1,8,8), (1,16,16); proxy ratios equal to the
/// window), next to the FLOP count of each mode. One block (the per-block figures scale with the 28 layers; the
/// embeddings and final layer are included in the time but are small), batch 1, 200 text tokens whose keys and values
/// are computed once per text, as the sampler does. `--quick` stops at 512 px; PTDIT_BENCH_PX=1024,2048 picks sizes.
/// Above 512 px each mode is timed once (the kernels were compiled at the smaller sizes).
/// </summary>
public sealed class PtDitAttentionBench : IBench
{
    public string Name => "ptdit-attention";

    static readonly (int px, int window)[] Sizes = [(256, 2), (512, 4), (1024, 8), (2048, 16)];

    public IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options)
    {
        const int batch = 1, textLength = 200, layers = 1;
        var only = Environment.GetEnvironmentVariable("PTDIT_BENCH_PX")?.Split(',').Select(int.Parse).ToHashSet();
        foreach (var (px, window) in options.Quick ? Sizes[..2] : Sizes)
        {
            if (only != null && !only.Contains(px)) continue;
            var config = PtDitConfig.Released with { NumLayers = layers, CompressRatios = [1, window, window], ProxyCompressRatios = [1, window, window] };
            var weights = PtDitRandomCheckpoint.Create(config, 1, DType.BF16);
            int latent = px / 8, tokens = latent / config.PatchSize * (latent / config.PatchSize);
            var rng = new Random(1);
            var latents = new float[batch * config.InChannels * latent * latent];
            for (int i = 0; i < latents.Length; i++) latents[i] = (float)(rng.NextDouble() * 2 - 1);
            var text = new float[batch * textLength * config.CaptionChannels];
            for (int i = 0; i < text.Length; i++) text[i] = (float)(rng.NextDouble() * 2 - 1);

            var seconds = new Dictionary<AttentionMode, double>();
            foreach (var mode in new[] { AttentionMode.Proxy, AttentionMode.Global })
            {
                using var model = new PtDitModel(gpu, PtDitWeights.Upload(gpu, config, weights, mode), mode);
                using var run = model.Prepare(batch, 1, latent, latent, textLength);
                run.SetText(text, []);
                run.SetTimesteps([500f]);
                run.Latents.Upload(latents);
                seconds[mode] = px <= 512 ? Benches.Median(run.Run, options.Repeats) : Once(run.Run);
            }
            double proxyFlops = BlockFlops(config, tokens, textLength, AttentionMode.Proxy) * layers * batch;
            double globalFlops = BlockFlops(config, tokens, textLength, AttentionMode.Global) * layers * batch;
            yield return new BenchResult(Name)
                .With("px", px).With("window", $"(1,{window},{window})").With("tokens", tokens).With("layers", layers)
                .With("proxy_ms", seconds[AttentionMode.Proxy] * 1e3).With("global_ms", seconds[AttentionMode.Global] * 1e3)
                .With("time_ratio", seconds[AttentionMode.Proxy] / seconds[AttentionMode.Global])
                .With("proxy_gflop", proxyFlops / 1e9).With("global_gflop", globalFlops / 1e9)
                .With("flop_ratio", proxyFlops / globalFlops)
                .With("proxy_gflops", proxyFlops / seconds[AttentionMode.Proxy] / 1e9)
                .With("global_gflops", globalFlops / seconds[AttentionMode.Global] / 1e9);
        }
    }

    static double Once(Action action)
    {
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        action();
        return System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    /// <summary>
    /// FLOPs (2 per multiply-add) of one block for one sample of T tokens, counting projections and attention
    /// products; text keys/values are per text, not per step, and are left out, as are the elementwise ops.
    /// </summary>
    public static double BlockFlops(PtDitConfig c, double T, double textLength, AttentionMode mode)
    {
        double D = c.Dim, N = c.WindowTokens, Pk = T / N * c.ProxiesPerWindow;
        double Linear(double rows, double outFeatures, double inFeatures) => 2 * rows * outFeatures * inFeatures;
        double Attention(double queries, double keys) => 2 * 2 * queries * keys * D;   // Q·Kᵀ and P·V
        double text = Linear(T, D, D) + Attention(T, textLength) + Linear(T, D, D);
        double ff = Linear(T, 4 * D, D) + Linear(T, D, 4 * D);
        if (mode == AttentionMode.Global)
            return Linear(T, 3 * D, D) + Attention(T, T) + Linear(T, D, D) + text + ff;
        double proxy = Linear(Pk, 3 * D, D) + Attention(Pk, Pk) + Linear(Pk, D, D);
        double inject = Linear(T, D, D) + Linear(Pk, 2 * D, D) + Attention(T, Pk) + Linear(T, D, D) + Linear(T, D, D);
        double window = Linear(T, 3 * D, D) + Attention(T, N) + Linear(T, D, D);
        double shifted = c.ShiftWindow ? window + Linear(T, D, D) : 0;
        return proxy + inject + window + shifted + text + ff;
    }
}
