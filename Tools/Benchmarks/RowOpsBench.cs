using System.Numerics;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

/// <summary>
/// The memory-bound per-block kernels at the model's shape (2 samples × 4096 tokens × 1152 at 1024 px):
/// modulated LayerNorm, RowScale, BroadcastAdd and WindowMean, each as GB/s of tensor traffic next to a
/// vectorised C# loop doing the same on the CPU (2 threads), measured interleaved in the same run.
/// </summary>
public sealed class RowOpsBench : IBench
{
    public string Name => "row_ops";

    public IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options)
    {
        int samples = 2, tokens = options.Quick ? 1024 : 4096, d = 1152, n = 64, windows = samples * tokens / n;
        long rows = (long)samples * tokens, size = rows * d;
        var rng = new Random(1);
        var x = new float[size];
        for (long i = 0; i < size; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var mod = new float[2 * samples * d];
        for (int i = 0; i < mod.Length; i++) mod[i] = (float)(rng.NextDouble() - 0.5);
        var table = x.AsSpan(0, tokens * d).ToArray();
        var y = new float[size];
        var proxies = new float[windows * d];

        var buffers = new List<GpuBuffer>();
        Tensor Make(float[]? values, params long[] shape)
        {
            var t = Tensor.Create(gpu, DType.F32, shape);
            if (values != null) t.Upload(values);
            buffers.Add(t.Buffer);
            return t;
        }
        var X = Make(x, windows, n, d);
        var Y = Make(null, windows, n, d);
        var M = Make(mod, 2, samples, d);
        var T = Make(table, tokens, d);
        var P = Make(null, windows, d);
        Tensor shift = M.Slice(0, 1).Reshape(samples, d), scale = M.Slice(1, 1).Reshape(samples, d);
        var window = new WindowSize(1, 8, 8);
        try
        {
            // (name, bytes moved, GPU recording, CPU baseline)
            var cases = new (string op, long bytes, Action<Sequence> gpuOp, Action cpuOp)[]
            {
                ("layer_norm_modulated", 4 * size * 4, s => LayerNorm.Record(s, X, Y, 1e-6f, shift, scale, n),
                    () => CpuLayerNorm(x, y, mod, rows, d, n, samples)),
                ("row_scale", 3 * size * 4, s => RowScale.Record(s, X, shift, Y, n),
                    () => CpuRowScale(x, y, mod, rows, d, n, samples)),
                ("broadcast_add", 3 * size * 4, s => BroadcastAdd.Record(s, X.Reshape(samples, tokens, d), T, Y.Reshape(samples, tokens, d)),
                    () => CpuBroadcastAdd(x, table, y)),
                ("window_mean", size * 4 + windows * d * 4, s => WindowMean.Record(s, X, P, window, window),
                    () => CpuWindowMean(x, proxies, windows, n, d)),
            };
            foreach (var (op, bytes, gpuOp, cpuOp) in cases)
            {
                using var seq = new Sequence(gpu);
                gpuOp(seq);
                double gpuTime = 0, cpuTime = 0;
                for (int round = 0; round < 2; round++) // interleaved, so both see the same machine load
                {
                    gpuTime += Benches.Median(seq.Run, options.Repeats);
                    cpuTime += Benches.Median(cpuOp, options.Repeats);
                }
                double gbs = bytes * 2 / gpuTime / 1e9, cpuGbs = bytes * 2 / cpuTime / 1e9;
                yield return new BenchResult(op).With("rows", rows).With("d", d).With("gbps", Math.Round(gbs, 2))
                    .With("baseline", "csharp_simd_2threads").With("baseline_gbps", Math.Round(cpuGbs, 2))
                    .With("ratio", Math.Round(gbs / cpuGbs, 3));
            }
        }
        finally
        {
            foreach (var b in buffers) b.Dispose();
        }
    }

    static readonly ParallelOptions TwoThreads = new() { MaxDegreeOfParallelism = 2 };

    static float Sum(ReadOnlySpan<float> v)
    {
        var acc = Vector<float>.Zero;
        int i = 0;
        for (; i + Vector<float>.Count <= v.Length; i += Vector<float>.Count) acc += new Vector<float>(v[i..]);
        float s = Vector.Sum(acc);
        for (; i < v.Length; i++) s += v[i];
        return s;
    }

    static void CpuLayerNorm(float[] x, float[] y, float[] mod, long rows, int d, int rowDiv, int groups)
        => Parallel.For(0, rows, TwoThreads, m =>
        {
            var row = x.AsSpan((int)(m * d), d);
            float mean = Sum(row) / d;
            var meanV = new Vector<float>(mean);
            var acc = Vector<float>.Zero;
            int i = 0;
            for (; i + Vector<float>.Count <= d; i += Vector<float>.Count) { var c = new Vector<float>(row[i..]) - meanV; acc += c * c; }
            float var_ = Vector.Sum(acc);
            for (; i < d; i++) var_ += (row[i] - mean) * (row[i] - mean);
            float rstd = 1f / MathF.Sqrt(var_ / d + 1e-6f);
            long g = m / rowDiv % groups;
            var shift = mod.AsSpan((int)(g * d), d);
            var scale = mod.AsSpan((int)((groups + g) * d), d);
            var outRow = y.AsSpan((int)(m * d), d);
            for (int j = 0; j < d; j++) outRow[j] = (row[j] - mean) * rstd * (1 + scale[j]) + shift[j];
        });

    static void CpuRowScale(float[] x, float[] y, float[] gate, long rows, int d, int rowDiv, int groups)
        => Parallel.For(0, rows, TwoThreads, m =>
        {
            var g = gate.AsSpan((int)(m / rowDiv % groups * d), d);
            var row = x.AsSpan((int)(m * d), d);
            var outRow = y.AsSpan((int)(m * d), d);
            int i = 0;
            for (; i + Vector<float>.Count <= d; i += Vector<float>.Count)
                (new Vector<float>(row[i..]) * new Vector<float>(g[i..])).CopyTo(outRow[i..]);
            for (; i < d; i++) outRow[i] = row[i] * g[i];
        });

    static void CpuBroadcastAdd(float[] a, float[] b, float[] y)
        => Parallel.For(0, a.Length / b.Length, TwoThreads, r =>
        {
            var src = a.AsSpan(r * b.Length, b.Length);
            var dst = y.AsSpan(r * b.Length, b.Length);
            int i = 0;
            for (; i + Vector<float>.Count <= b.Length; i += Vector<float>.Count)
                (new Vector<float>(src[i..]) + new Vector<float>(b.AsSpan(i))).CopyTo(dst[i..]);
            for (; i < b.Length; i++) dst[i] = src[i] + b[i];
        });

    static void CpuWindowMean(float[] x, float[] proxies, int windows, int n, int d)
        => Parallel.For(0, windows, TwoThreads, w =>
        {
            var acc = proxies.AsSpan(w * d, d);
            acc.Clear();
            for (int t = 0; t < n; t++)
            {
                var row = x.AsSpan((w * n + t) * d, d);
                for (int i = 0; i < d; i++) acc[i] += row[i];
            }
            for (int i = 0; i < d; i++) acc[i] /= n;
        });
}
