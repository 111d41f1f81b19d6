using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Benchmarks;

/// <summary>
/// Attention throughput at the released model's shapes (16 heads × 72): window attention over 64-token windows of a
/// 64 × 64 token grid (4096 tokens, plain and shifted), and dense attention of 4096 queries over 64 keys (proxies)
/// and 200 keys (text). GFLOP/s counts 4·Nq·Nk·d·H per batch element. Each figure comes with our own GEMM rate at
/// the block's projection shape (tokens × 1152 × 1152, f32, the weight in the layout model uploads give it: GEMM panels
/// on CPU devices), timed in turns with it in the same run.
/// </summary>
public sealed class AttentionBench : IBench
{
    public string Name => "attention";

    const int Heads = 16, HeadDim = 72, Width = Heads * HeadDim, Side = 64, Window = 8;

    public IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options)
    {
        var rng = new Random(1);
        int tokens = Side * Side;
        var grid = new WindowGrid(1, Side, Side, 1, Window, Window);
        var variants = options.Quick
            ? [AttentionVariant.Auto]
            : new[] { AttentionVariant.Subgroup, AttentionVariant.SharedMemory };
        foreach (int batch in options.Quick ? [1] : new[] { 1, 2 })
        {
            using var qkv = Random(gpu, rng, batch * tokens * 3 * Width);
            using var o = new GpuBuffer(gpu, (ulong)(batch * tokens * Width * 4));
            var qkvT = new Tensor(qkv, 0, DType.F32, batch * grid.Windows, grid.Tokens, 3 * Width);
            var oT = new Tensor(o, 0, DType.F32, batch * grid.Windows, grid.Tokens, Width);
            foreach (var variant in variants)
                foreach (bool shifted in new[] { false, true })
                {
                    var (seconds, gemm, layout) = TimeBesideGemm(gpu, batch * tokens, options, s => WindowAttention.Record(s, new(qkvT, 0),
                        new(qkvT, Width), new(qkvT, 2 * Width), oT, Heads, HeadDim, 1f / MathF.Sqrt(HeadDim), grid, shifted, variant));
                    double flops = 4.0 * grid.Tokens * grid.Tokens * HeadDim * Heads * grid.Windows * batch;
                    yield return Result("window_attention", batch, tokens, grid.Tokens, variant, gpu, flops / seconds / 1e9, gemm, layout)
                        .With("shifted", shifted);
                }
        }
        foreach (int keys in new[] { 64, 200 })
        {
            using var q = Random(gpu, rng, tokens * Width);
            using var kv = Random(gpu, rng, keys * 2 * Width);
            using var o = new GpuBuffer(gpu, (ulong)(tokens * Width * 4));
            var qT = new Tensor(q, 0, DType.F32, 1, tokens, Width);
            var kvT = new Tensor(kv, 0, DType.F32, 1, keys, 2 * Width);
            var oT = new Tensor(o, 0, DType.F32, 1, tokens, Width);
            foreach (var variant in variants)
            {
                var (seconds, gemm, layout) = TimeBesideGemm(gpu, tokens, options, s => Attention.Record(s, qT, new(kvT, 0), new(kvT, Width), oT,
                    Heads, HeadDim, 1f / MathF.Sqrt(HeadDim), variant: variant));
                double flops = 4.0 * tokens * keys * HeadDim * Heads;
                yield return Result("attention", 1, tokens, keys, variant, gpu, flops / seconds / 1e9, gemm, layout);
            }
        }
    }

    static BenchResult Result(string op, int batch, int tokens, int keys, AttentionVariant variant, Gpu gpu, double gflops, double gemm,
        string gemmLayout) =>
        new BenchResult(op).With("batch", batch).With("tokens", tokens).With("keys", keys).With("heads", Heads).With("head_dim", HeadDim)
            .With("variant", variant.Resolve(gpu.Info).ToString().ToLowerInvariant())
            .With("chosen", variant.Resolve(gpu.Info) == AttentionVariant.Auto.Resolve(gpu.Info))
            .With("gflops", Math.Round(gflops, 2))
            .With("gemm_gflops", Math.Round(gemm, 2)).With("gemm_shape", $"{tokens * batch}x{Width}x{Width}")
            .With("gemm_w_layout", gemmLayout)
            .With("ratio_to_gemm", Math.Round(gflops / gemm, 3));

    /// <summary>Median seconds of one recorded attention dispatch, and our GEMM's rate at the projection shape of the
    /// same tokens (y[m, 1152] = x[m, 1152]·wᵀ, f32). The two take turns (one warm-up each pays the JIT), so a
    /// slow spell of this shared machine lands on both sides of the ratio, not on one.</summary>
    static (double Seconds, double GemmGflops, string GemmLayout) TimeBesideGemm(Gpu gpu, int m, BenchOptions options, Action<Sequence> record)
    {
        var rng = new Random(2);
        using var x = Random(gpu, rng, m * Width);
        using var w = DeviceWeights.Upload(gpu, new Dictionary<string, HostTensor> { ["w"] = HostTensor.FromFloat32(Values(rng, Width * Width), Width, Width) },
            gemmWeight: _ => true);
        using var y = new GpuBuffer(gpu, (ulong)(m * Width * 4));
        using var gemm = new Sequence(gpu);
        Gemm.Record(gemm, new Tensor(x, 0, DType.F32, m, Width), w["w"], null, new Tensor(y, 0, DType.F32, m, Width));
        using var attention = new Sequence(gpu);
        record(attention);
        var t = Benches.Medians([attention.Run, gemm.Run], options.Repeats);
        return (t[0], 2.0 * m * Width * Width / t[1] / 1e9, Benches.LayoutName(w["w"]));
    }

    static GpuBuffer Random(Gpu gpu, Random rng, int n)
    {
        var b = new GpuBuffer(gpu, (ulong)n * 4);
        b.Upload<float>(Values(rng, n));
        return b;
    }

    static float[] Values(Random rng, int n)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * 1.7f;
        return data;
    }
}
