using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

/// <summary>A recorded kernel case: the dispatches, the tensor they write, and its double-precision CPU reference
/// (computed on demand: the benchmark sizes may skip it).</summary>
public sealed record KernelRun(Action<Sequence> Record, Tensor Output, Func<double[]> Want);

/// <summary>
/// One row of the kernel table: a named op at one shape, its inputs made from a seed, the recording and the reference.
/// The tests run every row of <see cref="KernelTable.Tests"/> against its reference (Tests/Kernels/KernelTableTests.cs);
/// `t2x bench --only kernels` times the rows of <see cref="KernelTable.Bench"/>. A tolerance of 0 asks for every
/// value to equal the reference exactly (copies, packs, gathers).
/// </summary>
public sealed record KernelCase(string Name, int Seed, double Tolerance, Func<Scratch, Random, KernelRun> Setup)
{
    /// <summary>Relative-norm tolerance by the precision of the stored operands: about 1e-5 for f32 arithmetic,
    /// 1e-3 when an operand is stored as f16 or bf16. A row may hold its kernel to less.</summary>
    public static double ToleranceFor(DType stored) => stored == DType.F32 ? 1e-5 : 1e-3;

    /// <summary>The tolerance of a row whose output must equal the reference value for value.</summary>
    public const double Exact = 0;

    /// <summary>The row's inputs, recording and reference, made in <paramref name="scratch"/> from the row's seed.</summary>
    public KernelRun Make(Scratch scratch) => Setup(scratch, new Random(Seed));
}

/// <summary>The table-driven kernel cases: each op is one function in Tools/Benchmarks/KernelCases/ that makes a row
/// for a shape (and holds the op's CPU reference), and one line per shape in <see cref="Tests"/> (odd shapes, not
/// multiples of the workgroup) and <see cref="Bench"/> (the model's).</summary>
public static partial class KernelTable
{
    public static IEnumerable<KernelCase> Tests =>
    [
        Add(1, 1f), Add(1000, -0.5f), Add(70_001, 2f),
        Activation(ActivationKind.GeluTanh, 1), Activation(ActivationKind.GeluTanh, 1153),
        Activation(ActivationKind.Silu, 2 * 1152), Activation(ActivationKind.Silu, 70_001),
        LatentRgb(4, 1, 1), LatentRgb(4, 13, 17), LatentRgb(16, 9, 70), LatentRgb(3, 64, 64),
        RmsNorm(5, 37, DType.F32), RmsNorm(3, 4096, DType.F16), RmsNorm(9, 70, DType.BF16), RmsNorm(4, 33, DType.F16),
        LayerNorm(1, 4), LayerNorm(7, 36), LayerNorm(3, 1152), LayerNorm(2, 4092),
        LayerNorm(70_001, 4),   // more rows than one grid dimension holds
        // (batch, windows, tokens per window, d, rowDiv): rowDiv = tokens per window is the block mapping
        // (row R = b·P + p uses sample R mod B), rowDiv = windows·tokens the final layer's per-sample mapping.
        ModulatedLayerNorm(2, 3, 5, 44, 5), ModulatedLayerNorm(3, 2, 7, 132, 14), ModulatedLayerNorm(1, 4, 3, 8, 3),
        Softmax(1, 1), Softmax(3, 300), Softmax(17, 1029),
        Softmax(19, 64, maxBindingBytes: 2048),   // rows in chunks of 8 (the VAE's 1024² attention scores exceed one binding)
        RowScale(30, 20, 5, 2),   // block mapping: window rows of 5 tokens, sample = window mod 2
        RowScale(30, 20, 15, 2),  // per-sample mapping
        RowScale(7, 1156, 1, 3),
        RowScale(70_001, 4, 3, 2), // rows spread over two grid dimensions
        BroadcastAdd(3, 7, 12), BroadcastAdd(2, 64, 36), BroadcastAdd(1, 5, 4),
        BroadcastAdd(70_001, 1, 4), // more repeats than one grid dimension holds
        BroadcastAdd(2, 6, 10),     // rows of 10: only the total size of b must be a multiple of 4
        // (table rows R, temb chunks, samples G, D): the block's 6 rows and the shifted-window 3 rows with
        // temb6, and the final layer's 2 rows with a one-chunk temb.
        Modulation(6, 6, 2, 37, DType.F32), Modulation(3, 6, 3, 21, DType.BF16), Modulation(2, 1, 2, 45, DType.F16),
        Modulation(6, 6, 1, 1152, DType.BF16),
        GroupNorm(1, 1, 8, 2, false), GroupNorm(2, 37, 12, 3, true), GroupNorm(1, 301, 32, 4, true),
        GroupNorm(2, 29, 8, 4, true),      // 2 channels per group: texels of 4 channels straddle groups
        GroupNorm(1, 13, 12, 2, false),    // 6 channels per group
        GroupNorm(2, 37, 12, 3, true, maxBindingBytes: 1024),   // y in chunks of 16 rows, one crossing from sample 0 to sample 1
        GroupNorm(3, 45, 8, 4, false, maxBindingBytes: 1024),
        WindowMean(6, new(1, 8, 8), new(1, 8, 8), 36),   // released: one proxy per 8×8 window
        WindowMean(4, new(1, 8, 8), new(1, 4, 2), 20),   // finer proxies: 2 × 4 per window
        WindowMean(3, new(2, 4, 6), new(2, 2, 3), 4),    // two-frame windows, 2 × 2 proxies
        WindowMean(130, new(1, 2, 2), new(1, 2, 2), 300),
        Patchify(2, 4, 1, 32, 48, 2, new(1, 8, 8)),   // released patch and window, non-square
        Patchify(1, 3, 4, 12, 8, 2, new(2, 3, 2)),    // video: two-frame windows
        Patchify(2, 5, 3, 9, 6, 3, new(1, 1, 2)),     // patch 3
        Unpatchify(2, 8, 1, 32, 48, 2, new(1, 8, 8)), Unpatchify(1, 3, 4, 12, 8, 2, new(2, 3, 2)),
        Unpatchify(2, 5, 3, 9, 6, 3, new(1, 1, 2)),
        Upsample(UpsampleKind.Nearest2x, 2, 3, 3, 5, 4), Upsample(UpsampleKind.Spatial2xTime2x, 1, 1, 3, 5, 4),
        Upsample(UpsampleKind.Spatial2xTime2x, 2, 2, 2, 3, 8), Upsample(UpsampleKind.Spatial2xTime2x, 1, 4, 1, 2, 4),
        Upsample(UpsampleKind.Nearest2x, 2, 3, 3, 5, 12, maxBindingBytes: 1024),   // y in chunks of 16 positions
        Upsample(UpsampleKind.Spatial2xTime2x, 2, 3, 3, 2, 8, maxBindingBytes: 512),
        // maxTexels = 0: the device limit (one view); small values force the split over several views.
        Embedding(1001, 7, DType.F32, 2, 9), Embedding(1001, 6, DType.F16, 3, 11), Embedding(777, 10, DType.BF16, 2, 40),
        Embedding(1001, 6, DType.F16, 3, 50, maxTexels: 64 * 3),   // views of 64 rows (12-byte rows: 64 rows keep 256-byte alignment)
        Embedding(300, 7, DType.F32, 2, 60, maxTexels: 1000),      // views of 128 rows (28-byte rows align every 64) and a last one of 44
        Embedding(200, 4096, DType.BF16, 1, 20, maxTexels: 8 * 2048), // T5 width, 8-row views
        EulerCfg(1, 4, 8, 1, 6, 10), EulerCfg(2, 4, 8, 3, 5, 7), EulerCfg(3, 3, 3, 1, 1, 1),
        .. TileBlends,
        PresentPack(1, 1), PresentPack(7, 13), PresentPack(300, 257),
    ];

    /// <summary>The ops that matter for speed at the model's shapes: the hidden states of 2 samples × 4096 tokens
    /// × 1152 channels (1024 px).</summary>
    public static IEnumerable<KernelCase> Bench =>
    [
        Add(2 * 4096 * 1152, 1f),
        Activation(ActivationKind.GeluTanh, 2 * 4096 * 1152),
        Activation(ActivationKind.Silu, 2 * 4096 * 1152),
        LatentRgb(4, 128, 128),   // the viewer's per-step preview at 1024 px
        LayerNorm(2 * 4096, 1152),
        ModulatedLayerNorm(2, 64, 64, 1152, 64),   // the block's modulated norm: 64 windows of 64 tokens per sample
        RmsNorm(2 * 4096, 1152, DType.F32),
        Softmax(2 * 4096, 1152),
        RowScale(2 * 4096, 1152, 64, 2),           // the block's gates
        Modulation(6, 6, 2, 1152, DType.BF16),
        BroadcastAdd(2, 4096, 1152),
    ];
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

    /// <summary>The values in double precision, as a reference takes them.</summary>
    public static double[] Widen(float[] x) => Array.ConvertAll(x, v => (double)v);

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
