using System.Diagnostics;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Benchmarks;

/// <summary>
/// GEMM throughput at the PT-DiT shapes: y[m, n] = x[m, k]·w[n, k]ᵀ with m = tokens, k = in features, n = out
/// features, for f32, f16 and bf16 weights, next to OpenBLAS cblas_sgemm (f32) on the same data, the two timed
/// alternately in the same run. The GPU side resubmits one recorded Sequence. Where the shape allows, the texel variant
/// is timed with weights in <see cref="GemmPanels"/> (the layout model uploads give it, `chosen`) and row-major, in turns.
/// </summary>
public sealed class GemmBench : IBench
{
    public string Name => "gemm";

    /// <summary>(in, out) pairs of the model's linear layers: attention projections, MLP up and down, caption projection.</summary>
    static readonly (int k, int n)[] Layers = [(1152, 1152), (1152, 4608), (4608, 1152), (4096, 1152)];
    static readonly int[] Tokens = [64, 1024, 4096];
    static readonly DType[] WeightTypes = [DType.F32, DType.F16, DType.BF16];

    public IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options)
    {
        bool blas = OpenBlas.Available;
        int[] tokens = options.Quick ? [64] : Tokens;
        var layers = options.Quick ? Layers[..2] : Layers;
        var types = options.Quick ? WeightTypes[..2] : WeightTypes;
        if (options.GemmShape is { } shape) (tokens, layers, types) = ([shape.m], [(shape.k, shape.n)], WeightTypes);
        var rng = new Random(1);
        foreach (int m in tokens)
            foreach (var (k, n) in layers)
            {
                var x = Random(rng, (long)m * k);
                var w = Random(rng, (long)n * k);
                var yBlas = new float[(long)m * n];
                using var xBuffer = new GpuBuffer(gpu, (ulong)x.Length * 4);
                using var yBuffer = new GpuBuffer(gpu, (ulong)yBlas.Length * 4);
                xBuffer.Upload<float>(x);
                var xt = new Tensor(xBuffer, 0, DType.F32, m, k);
                var yt = new Tensor(yBuffer, 0, DType.F32, m, n);
                foreach (var dtype in types)
                {
                    var wHost = HostTensor.FromFloat32(w, n, k).To(dtype);
                    using var wBuffer = new GpuBuffer(gpu, (ulong)wHost.Bytes.Length);
                    wBuffer.Upload(wHost.Bytes);
                    var wt = new Tensor(wBuffer, 0, dtype, n, k);
                    using var panelBuffer = GemmPanels.Fits(dtype, n, k) ? new GpuBuffer(gpu, (ulong)wHost.Bytes.Length) : null;
                    var wPanels = panelBuffer is null ? null : GemmPanels.Write(panelBuffer, 0, wHost);
                    // The variant the engine uses everywhere; without --quick the other design too at the smallest row
                    // count in f32 (the GPU design runs at a few GFLOP/s on lavapipe, too slow for the large shapes).
                    var chosen = Gemm.ChosenVariant(gpu.Info);
                    foreach (var variant in Enum.GetValues<Gemm.Variant>())
                    {
                        if (variant != chosen && (options.Quick || m != tokens[0] || dtype != DType.F32)) continue;
                        foreach (var result in Measure(gpu, xt, wt, wPanels, yt, variant, chosen, x, w, yBlas, m, n, k, blas, options))
                            yield return result;
                    }
                }
            }
    }

    /// <summary>Rows for one kernel variant: our GEMM (for the texel variant, each tile height of
    /// <c>--texel-row-groups</c>, else the engine's, with panel weights where the shape allows, and the engine's height
    /// with row-major weights too) and OpenBLAS on the same data, all timed in turns.</summary>
    static IEnumerable<BenchResult> Measure(Gpu gpu, Tensor xt, Tensor wt, Tensor? wPanels, Tensor yt, Gemm.Variant variant, Gemm.Variant chosen,
        float[] x, float[] w, float[] yBlas, int m, int n, int k, bool blas, BenchOptions options)
    {
        bool texel = variant == Gemm.Variant.Texel;
        int?[] heights = texel && options.TexelRowGroups is { } g ? g.Select(h => (int?)h).ToArray() : [null];
        // The engine's layout at each height, then the other layout at the engine's height.
        var engineW = texel && wPanels is not null ? wPanels : wt;
        var contenders = heights.Select(h => (height: h, w: engineW)).ToList();
        if (texel && wPanels is not null) contenders.Add((null, engineW == wt ? wPanels : wt));
        var seqs = new List<Sequence>();
        try
        {
            foreach (var (h, wc) in contenders)
            {
                seqs.Add(new Sequence(gpu));
                Gemm.Record(seqs[^1], xt, wc, null, yt, Epilogue.None, null, null, 1, new Gemm.Overrides(variant, TexelRowGroups: h));
            }

            // Interleaved: one sample of each of our GEMMs, one OpenBLAS sample, repeated; medians of each. A sample
            // repeats its call enough times to last ~0.1 s, so small shapes are not at the mercy of one time slice;
            // taking turns within a second lets a shared machine's changing speed hit every contender alike.
            int gpuCalls = CallsPerSample(seqs[0].Run);
            foreach (var s in seqs.Skip(1)) s.Run();
            int blasCalls = blas ? CallsPerSample(() => OpenBlas.Gemm(x, w, yBlas, m, n, k)) : 0;
            var gpuTimes = seqs.Select(_ => new List<double>()).ToArray();
            var blasTimes = new List<double>();
            for (int r = 0; r < options.Repeats; r++)
            {
                for (int i = 0; i < seqs.Count; i++) gpuTimes[i].Add(Time(seqs[i].Run, gpuCalls));
                if (blas) blasTimes.Add(Time(() => OpenBlas.Gemm(x, w, yBlas, m, n, k), blasCalls));
            }

            double flops = 2.0 * m * n * k;
            double? baseline = blas ? flops / Median(blasTimes) / 1e9 : null;
            for (int i = 0; i < seqs.Count; i++)
            {
                if (blas && wt.DType == DType.F32)
                {
                    seqs[i].Run();
                    CheckAgainstBaseline(yt.ToArray(), yBlas, $"{m}x{k}x{n}");
                }
                double gflops = flops / Median(gpuTimes[i]) / 1e9;
                var result = new BenchResult("gemm").With("m", m).With("n", n).With("k", k)
                    .With("dtype", wt.DType.ToString().ToLowerInvariant())
                    .With("gflops", Math.Round(gflops, 2));
                if (baseline is double b)
                    result.With("baseline", "openblas").With("baseline_gflops", Math.Round(b, 2)).With("of_baseline", Math.Round(gflops / b, 3));
                var (height, wc) = contenders[i];
                result.With("variant", variant.ToString().ToLowerInvariant());
                if (height is int h) result.With("row_groups", h);
                if (texel) result.With("w_layout", Benches.LayoutName(wc));
                result.With("chosen", variant == chosen && (height ?? Gemm.TexelRowGroups) == Gemm.TexelRowGroups && wc == engineW);
                yield return result;
            }
        }
        finally
        {
            foreach (var s in seqs) s.Dispose();
        }
    }

    static float[] Random(Random rng, long n)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = rng.NextSingle() * 2 - 1;
        return a;
    }

    /// <summary>Seconds per call, averaged over <paramref name="calls"/> calls.</summary>
    static double Time(Action action, int calls)
    {
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++) action();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds / calls;
    }

    /// <summary>Warms the action up (first call pays JIT compilation) and returns how many calls last ~0.1 s.</summary>
    static int CallsPerSample(Action action)
    {
        action();
        double once = Time(action, 1);
        return (int)Math.Clamp(0.1 / Math.Max(once, 1e-6), 1, 1000);
    }

    static double Median(List<double> times)
    {
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>A figure for a wrong result is worthless: the f32 GPU result must match OpenBLAS.</summary>
    static void CheckAgainstBaseline(float[] got, float[] want, string shape)
    {
        double num = 0, den = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double d = got[i] - want[i];
            num += d * d;
            den += (double)want[i] * want[i];
        }
        double err = Math.Sqrt(num / Math.Max(den, 1e-300));
        if (!(err < 1e-4)) throw new InvalidOperationException($"gemm bench {shape}: GPU result differs from OpenBLAS (relative error {err:E2})");
    }
}
