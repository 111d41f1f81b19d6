using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

/// <summary>A recorded kernel case: the dispatches, the tensor they write, and its double-precision CPU reference
/// (computed on demand: the benchmark sizes may skip it).</summary>
public sealed record KernelRun(Action<Sequence> Record, Tensor Output, Func<double[]> Want);

/// <summary>
/// One row of the kernel table: a named op at one shape, its inputs made from a seed, the recording and the reference.
/// The tests run every row of <see cref="KernelTable.Tests"/> against its reference (Tests/Kernels/KernelTableTests.cs);
/// `t2x bench --only kernels` times the rows of <see cref="KernelTable.Bench"/>.
/// </summary>
public sealed record KernelCase(string Name, int Seed, double Tolerance, Func<Scratch, Random, KernelRun> Setup)
{
    /// <summary>Relative-norm tolerance by the precision of the stored operands: about 1e-5 for f32 arithmetic,
    /// 1e-3 when an operand is stored as f16 or bf16. A row may hold its kernel to less.</summary>
    public static double ToleranceFor(DType stored) => stored == DType.F32 ? 1e-5 : 1e-3;
}

/// <summary>The table-driven kernel cases: each op is one function that makes a row for a shape, and one line per
/// shape in <see cref="Tests"/> (odd shapes, not multiples of the workgroup) and <see cref="Bench"/> (the model's).</summary>
public static class KernelTable
{
    public static IEnumerable<KernelCase> Tests =>
    [
        Add(1, 1f), Add(1000, -0.5f), Add(70_001, 2f),
        Activation(ActivationKind.GeluTanh, 1), Activation(ActivationKind.GeluTanh, 1153),
        Activation(ActivationKind.Silu, 2 * 1152), Activation(ActivationKind.Silu, 70_001),
        LatentRgb(4, 1, 1), LatentRgb(4, 13, 17), LatentRgb(16, 9, 70), LatentRgb(3, 64, 64),
    ];

    /// <summary>Elementwise ops over the hidden states of 2 samples × 4096 tokens × 1152 channels (1024 px).</summary>
    public static IEnumerable<KernelCase> Bench =>
    [
        Add(2 * 4096 * 1152, 1f),
        Activation(ActivationKind.GeluTanh, 2 * 4096 * 1152),
        Activation(ActivationKind.Silu, 2 * 4096 * 1152),
        LatentRgb(4, 128, 128),   // the viewer's per-step preview at 1024 px
    ];

    static KernelCase Add(int n, float alpha) => new($"add n={n} alpha={alpha}", n, 1e-6, (s, rng) =>
    {
        var a = KernelInputs.Randn(rng, n);
        var b = KernelInputs.Randn(rng, n);
        Tensor A = s.F32(a, n), B = s.F32(b, n), Y = s.Empty(DType.F32, n);
        return new(seq => Vulkan.Kernels.Add.Record(seq, A, B, Y, alpha), Y,
            () => Enumerable.Range(0, n).Select(i => a[i] + (double)alpha * b[i]).ToArray());
    });

    static KernelCase Activation(ActivationKind kind, int n) => new($"activation {kind} n={n}", n, KernelCase.ToleranceFor(DType.F32), (s, rng) =>
    {
        var x = KernelInputs.Randn(rng, n, 4.0);
        Tensor X = s.F32(x, n), Y = s.Empty(DType.F32, n);
        return new(seq => Vulkan.Kernels.Activation.Record(seq, kind, X, Y), Y, () => Array.ConvertAll(x, v => ActivationReference(kind, v)));
    });

    static KernelCase LatentRgb(int channels, int height, int width) =>
        new($"latent_rgb {channels}x{height}x{width}", channels * 1000 + height * 10 + width, KernelCase.ToleranceFor(DType.F32), (s, rng) =>
    {
        var latent = KernelInputs.Randn(rng, channels * height * width);
        var projection = KernelInputs.Randn(rng, 3 * (channels + 1), 0.3);
        Tensor L = s.F32(latent, channels, height, width), M = s.F32(projection, 3, channels + 1), Y = s.Empty(DType.F32, 3, height, width);
        return new(seq => Vulkan.Kernels.LatentRgb.Record(seq, L, M, Y), Y, () =>
        {
            int pixels = height * width;
            var want = new double[3 * pixels];
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < pixels; p++)
                {
                    double v = projection[c * (channels + 1) + channels];
                    for (int k = 0; k < channels; k++) v += (double)projection[c * (channels + 1) + k] * latent[k * pixels + p];
                    want[c * pixels + p] = v;
                }
            return want;
        });
    });

    public static double ActivationReference(ActivationKind kind, double x) => kind switch
    {
        ActivationKind.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        _ => x / (1 + Math.Exp(-x)),
    };
}

/// <summary>Seeded inputs and the error measure of the kernel tests and the kernel table.</summary>
public static class KernelInputs
{
    /// <summary>Fresh random normal values (seeded from the test's random source so failures are reproducible).</summary>
    public static float[] Randn(Random rng, long n, double scale = 1.0)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            a[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }

    /// <summary>‖got − want‖ / ‖want‖ over all elements (infinite where got holds a non-finite value).</summary>
    public static double RelativeError(ReadOnlySpan<float> got, ReadOnlySpan<double> want)
    {
        double num = 0, den = 0;
        for (int i = 0; i < got.Length; i++)
        {
            if (!double.IsFinite(got[i])) return double.PositiveInfinity;
            double d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return Math.Sqrt(num / Math.Max(den, 1e-300));
    }
}
