using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Weights;

namespace T2X.Benchmarks;

/// <summary>
/// The VAE decoder's convolutions at the released widths (hidden 128 × [1, 2, 4, 4]) on a 256² image, as
/// conv3d GFLOP/s (the implicit GEMM, folded 3x3 kernels for images, full 3x3x3 for video frames) next to our GEMM
/// on a random x[M, K]·w[N, K]ᵀ of the same M × K × N, timed alternately in the same run; the direct conv3d kernel
/// (the narrow-end path) once for scale; then the whole decode of a 256² image with random released-shape weights.
/// </summary>
public sealed class VaeBench : IBench
{
    public string Name => "vae";

    /// <summary>The decoder's 3x3 convolutions at a 256² image (latent 32²): level, side, frames, Cin, Cout.</summary>
    static readonly (string layer, int side, int frames, int cin, int cout)[] Shapes =
    [
        ("mid/up.3 conv", 32, 1, 512, 512),
        ("up.2 conv", 64, 1, 512, 512),
        ("up.1 conv", 128, 1, 256, 256),
        ("up.0 conv", 256, 1, 128, 128),
        ("up.3 conv, 3-frame video", 32, 3, 512, 512),
    ];

    public IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options)
    {
        var rng = new Random(1);
        var shapes = options.Quick ? Shapes[..1] : Shapes;
        foreach (var (layer, side, frames, cin, cout) in shapes)
        {
            int kt = 3, taps = (frames == 1 ? 1 : kt) * 9;
            long m = (long)frames * side * side, k = (long)taps * cin;
            var checkpoint = HostTensor.FromFloat32(Uniform(rng, (long)cout * cin * kt * 9, 1 / Math.Sqrt(k)), cout, cin, kt, 3, 3);
            var packed = Conv3d.PackGemmWeight(frames == 1 ? Conv3d.FoldTime(checkpoint) : checkpoint);
            using var x = Owned(gpu, Uniform(rng, m * cin, 1), 1, frames, side, side, cin);
            using var w = Owned(gpu, packed.ToFloat32(), packed.Shape);
            using var bias = Owned(gpu, new float[cout], cout);
            using var y = Owned(gpu, null, 1, frames, side, side, cout);
            using var gx = Owned(gpu, Uniform(rng, m * k, 1), m, k);
            using var gw = Owned(gpu, Uniform(rng, cout * k, 1), cout, k);
            using var gy = Owned(gpu, null, m, cout);
            using var conv = new Sequence(gpu);
            Conv3d.RecordGemm(conv, x.T, w.T, bias.T, y.T);
            using var gemm = new Sequence(gpu);
            Gemm.Record(gemm, gx.T, gw.T, null, gy.T);
            conv.Run();
            gemm.Run();
            var convTimes = new List<double>();
            var gemmTimes = new List<double>();
            for (int r = 0; r < options.Repeats; r++)
            {
                convTimes.Add(Seconds(conv.Run));
                gemmTimes.Add(Seconds(gemm.Run));
            }
            double flops = 2.0 * m * k * cout, convRate = flops / Median(convTimes) / 1e9, gemmRate = flops / Median(gemmTimes) / 1e9;
            var result = new BenchResult("conv3d").With("layer", layer).With("m", m).With("k", k).With("n", cout)
                .With("taps", taps).With("gflops", Math.Round(convRate, 2))
                .With("baseline", "gemm").With("baseline_gflops", Math.Round(gemmRate, 2)).With("ratio", Math.Round(convRate / gemmRate, 3));
            if (layer == Shapes[0].layer)
            {
                // The direct kernel on the same problem, once (it is slow): what the implicit GEMM replaced.
                var direct = Conv3d.PackWeight(frames == 1 ? Conv3d.FoldTime(checkpoint) : checkpoint);
                using var dw = Owned(gpu, direct.ToFloat32(), direct.Shape);
                using var db = Owned(gpu, new float[cout], cout);
                using var seq = new Sequence(gpu);
                Conv3d.Record(seq, x.T, false, dw.T, db.T, cout, y.T, false);
                seq.Run();
                result.With("direct_gflops", Math.Round(flops / Seconds(seq.Run) / 1e9, 2));
            }
            yield return result;
        }

        // The whole decoder at the released widths, random weights, one image: the first decode pays the pipelines' JIT.
        int latent = options.Quick ? 8 : 32;
        var config = VaeConfig.Released;
        long load0 = System.Diagnostics.Stopwatch.GetTimestamp();
        using var vae = VaeDecoder.Create(gpu, config, new RandomSource(config, rng));
        double loadSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(load0).TotalSeconds;
        long[] shape = [1, config.EmbedDim, 1, latent, latent];
        var latents = Uniform(rng, shape.Aggregate(1L, (a, b) => a * b), 1);
        vae.Decode(latents, shape, VaeTiling.Off);
        gpu.ResetPeak();
        double seconds = Seconds(() => vae.Decode(latents, shape, VaeTiling.Off));
        double gflop = DecodeFlops(config, latent) / 1e9;
        yield return new BenchResult("vae_decode").With("image", $"{8 * latent}x{8 * latent}").With("seconds", Math.Round(seconds, 2))
            .With("gflop", Math.Round(gflop, 1)).With("gflops", Math.Round(gflop / seconds, 2))
            .With("load_seconds", Math.Round(loadSeconds, 1)).With("weights_mb", vae.WeightBytes / 1_000_000)
            .With("peak_activations_mb", (gpu.PeakBytes - vae.WeightBytes) / 1_000_000);
    }

    /// <summary>Multiply-adds ×2 of a plain image decode (convolutions with folded time taps, the mid attention's
    /// GEMMs); the elementwise ops are left out.</summary>
    static double DecodeFlops(VaeConfig c, long side)
    {
        double Conv(long s, long cin, long cout, long taps) => 2.0 * s * s * cin * cout * taps;
        long top = c.Width(c.Levels - 1);
        double f = Conv(side, c.ZChannels, top, 9) + 4 * Conv(side, top, top, 9);   // conv_in, mid resblocks
        f += 6 * Conv(side, top, top, 1) + 4.0 * Math.Pow(side, 4) * top;            // q, k, v, vᵀ, proj; QKᵀ and PV
        long s = side, cur = top;
        for (int level = c.Levels - 1; level >= 0; level--)
        {
            long w = c.Width(level);
            for (int b = 0; b <= c.NumResBlocks; b++)
            {
                f += Conv(s, b == 0 ? cur : w, w, 9) + Conv(s, w, w, 9);
                if (b == 0 && cur != w) f += Conv(s, cur, w, 1);
            }
            cur = w;
            if (c.DecoderSpatialUpsample[level].Length > 0) { s *= 2; f += Conv(s, w, w, 9); }
        }
        return f + Conv(s, c.Width(0), VaeConfig.OutChannels, 9);
    }

    /// <summary>The released decoder's keys with random values (conv weights scaled by 1/√fan-in, norms around 1).</summary>
    sealed class RandomSource(VaeConfig c, Random rng) : ITensorSource
    {
        readonly Dictionary<string, long[]> _shapes = c.Keys().ToDictionary(k => k.name, k => k.shape);
        public IReadOnlyList<TensorInfo> Tensors => _shapes.Select(kv => new TensorInfo(kv.Key, DType.F32, kv.Value)).ToList();
        public HostTensor Read(string name)
        {
            var shape = _shapes[name];
            long n = shape.Aggregate(1L, (a, b) => a * b);
            if (shape.Length == 5) return HostTensor.FromFloat32(Uniform(rng, n, 1 / Math.Sqrt(n / shape[0])), shape);
            var v = Uniform(rng, n, 0.1);
            if (!name.EndsWith(".bias", StringComparison.Ordinal)) for (long i = 0; i < n; i++) v[i] += 1;
            return HostTensor.FromFloat32(v, shape);
        }
        public void Dispose() { }
    }

    /// <summary>Uniform values with standard deviation <paramref name="std"/>.</summary>
    static float[] Uniform(Random rng, long n, double std)
    {
        var a = new float[n];
        float scale = (float)(std * Math.Sqrt(3));
        for (long i = 0; i < n; i++) a[i] = (rng.NextSingle() * 2 - 1) * scale;
        return a;
    }

    static OwnedTensor Owned(Gpu gpu, float[]? values, params long[] shape)
    {
        var t = Tensor.Create(gpu, DType.F32, shape);
        if (values is not null) t.Upload(values);
        return new OwnedTensor(t);
    }

    static double Seconds(Action action)
    {
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        action();
        return System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    static double Median(List<double> times)
    {
        times.Sort();
        return times[times.Count / 2];
    }
}
