using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Kernels;

/// <summary>Both GEMM variants (forced, so lavapipe runs the GPU one too) against a double-precision reference.
/// Weights and biases are rounded to their dtype before the reference sees them, so every case is held to the
/// f32-accumulation tolerance.</summary>
public sealed class GemmTests : GpuTest
{
    const double Tol = 1e-5;
    static readonly Gemm.Variant[] Variants = [Gemm.Variant.Texel, Gemm.Variant.Tiled];
    static readonly DType[] WeightTypes = [DType.F32, DType.F16, DType.BF16];

    /// <summary>A problem's host data; the device tensors are made from it per case.</summary>
    sealed class Problem
    {
        public int M, N, K, GateRows = 1, GateRowDiv = 1;
        public float[] X = [], W = [], Bias = [], Residual = [], Gate = [];
        public double[] WRounded = [], BiasRounded = [];
        public DType WType, BiasType;
        public bool HasBias, HasResidual, HasGate, Panels;
        public Epilogue Epilogue;
        public Gemm.Overrides Overrides;

        public static Problem Random(int m, int n, int k, DType wType, int seed)
        {
            var rng = new Random(seed);
            var p = new Problem { M = m, N = n, K = k, WType = wType, BiasType = wType };
            p.X = Check.Randn(rng, (long)m * k);
            p.W = Check.Randn(rng, (long)n * k, 1 / Math.Sqrt(k));
            p.Bias = Check.Randn(rng, n);
            p.Residual = Check.Randn(rng, (long)m * n);
            p.Gate = Check.Randn(rng, 8L * n);
            return p;
        }

        public double[] Reference()
        {
            WRounded = HostTensor.FromFloat32(W, N, K).To(WType).ToFloat64();
            BiasRounded = HostTensor.FromFloat32(Bias, N).To(BiasType).ToFloat64();
            var y = new double[(long)M * N];
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++)
                {
                    double s = 0;
                    for (int k = 0; k < K; k++) s += (double)X[(long)m * K + k] * WRounded[(long)n * K + k];
                    if (HasBias) s += BiasRounded[n];
                    s = Epilogue switch
                    {
                        Epilogue.Gelu => 0.5 * s * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (s + 0.044715 * s * s * s))),
                        Epilogue.Silu => s / (1 + Math.Exp(-s)),
                        _ => s,
                    };
                    double g = HasGate ? Gate[(m / GateRowDiv % GateRows) * N + n] : 1;
                    s = (HasResidual ? Residual[(long)m * N + n] : 0) + g * s;
                    y[(long)m * N + n] = s;
                }
            return y;
        }
    }

    /// <summary>Uploads host values in a dtype into a fresh tensor placed <paramref name="leadBytes"/> into its buffer
    /// (non-zero leads exercise the aligned-binding offsets).</summary>
    static Tensor Upload(float[] values, DType dtype, long[] shape, ulong leadBytes = 0)
    {
        var bytes = HostTensor.FromFloat32(values, shape).To(dtype).Bytes;
        var buffer = new GpuBuffer(Gpu, leadBytes + (ulong)bytes.Length);
        buffer.Upload(bytes, leadBytes);
        return new Tensor(buffer, leadBytes, dtype, shape);
    }

    /// <summary>As <see cref="Upload"/>, for a weight [N, K] stored in <see cref="GemmPanels"/>.</summary>
    static Tensor UploadPanels(float[] values, DType dtype, long n, long k, ulong leadBytes = 0)
    {
        var weight = HostTensor.FromFloat32(values, n, k).To(dtype);
        return GemmPanels.Write(new GpuBuffer(Gpu, leadBytes + (ulong)weight.Bytes.Length), leadBytes, weight);
    }

    static float[] RunGemm(Problem p, bool inPlace = false, ulong leadBytes = 0)
    {
        var x = Upload(p.X, DType.F32, [p.M, p.K], leadBytes);
        var w = p.Panels ? UploadPanels(p.W, p.WType, p.N, p.K, leadBytes) : Upload(p.W, p.WType, [p.N, p.K], leadBytes);
        var bias = p.HasBias ? Upload(p.Bias, p.BiasType, [p.N], leadBytes / 2) : null;
        var residual = p.HasResidual ? Upload(p.Residual, DType.F32, [p.M, p.N], leadBytes) : null;
        var gate = p.HasGate ? Upload(p.Gate[..(p.GateRows * p.N)], DType.F32, [p.GateRows, p.N], leadBytes) : null;
        var y = inPlace ? residual! : Upload(new float[(long)p.M * p.N], DType.F32, [p.M, p.N], leadBytes);
        try
        {
            Run(s => Gemm.Record(s, x, w, bias, y, p.Epilogue, residual, gate, p.GateRowDiv, p.Overrides));
            return y.ToArray();
        }
        finally
        {
            foreach (var t in new[] { x, w, bias, residual, gate, y }) t?.Buffer.Dispose();
        }
    }

    static void Force(Gemm.Variant v, Problem p)
    {
        p.Overrides = p.Overrides with { Variant = v };
        // The texel variant takes K % 8 == 0; other K fall back to the tiled one, which these cases then test.
        var expected = v == Gemm.Variant.Texel && p.K % 8 == 0 ? Gemm.Variant.Texel : Gemm.Variant.Tiled;
        var probe = new Tensor(new GpuBuffer(Gpu, 16), 0, DType.F32, 4);
        try { Assert.That(Gemm.ChooseVariant(Gpu.Info, probe, probe, p.K, v), Is.EqualTo(expected), "variant"); }
        finally { probe.Buffer.Dispose(); }
    }

    static IEnumerable<TestCaseData> Shapes()
    {
        (int m, int n, int k)[] shapes = [(1, 5, 72), (7, 260, 72), (64, 72, 264), (130, 260, 264), (130, 1, 72), (64, 5, 3), (7, 72, 257), (1, 1, 3),
            (20, 40, 3600)];   // in f32 a W panel over the texel variant's L2 budget: column blocks one by one
        foreach (var v in Variants)
            foreach (var dt in WeightTypes)
                foreach (var (m, n, k) in shapes)
                    yield return new TestCaseData(v, dt, m, n, k);
    }

    [TestCaseSource(nameof(Shapes))]
    public void MatchesCpu(Gemm.Variant variant, DType wType, int m, int n, int k)
    {
        var p = Problem.Random(m, n, k, wType, seed: m * 1000 + n * 10 + k);
        Force(variant, p);
        Check.Close(RunGemm(p), p.Reference(), Tol, $"gemm {variant} {wType} {m}x{n}x{k}");
    }

    /// <summary>Devices with only the guaranteed 128 invocations per workgroup get the tiled layout with 4 × 8 outputs each.</summary>
    [TestCase(DType.F32, 67, 130, 40)]
    [TestCase(DType.BF16, 130, 67, 33)]
    public void TiledWithinGuaranteedInvocations(DType wType, int m, int n, int k)
    {
        var p = Problem.Random(m, n, k, wType, seed: m * 7 + n * 3 + k);
        Force(Gemm.Variant.Tiled, p);
        p.Overrides = p.Overrides with { MaxInvocations = 128 };
        Check.Close(RunGemm(p), p.Reference(), Tol, $"gemm tiled, 128 invocations, {wType} {m}x{n}x{k}");
    }

    /// <summary>The texel variant at tile heights other than the engine's (`t2x bench --texel-row-groups` times them):
    /// 67 rows leave every height a partial last tile.</summary>
    [TestCase(1, DType.F32)]
    [TestCase(2, DType.BF16)]
    [TestCase(4, DType.F16)]
    public void TexelTileHeights(int rowGroups, DType wType)
    {
        var p = Problem.Random(67, 72, 264, wType, seed: 40 + rowGroups);
        p.HasBias = p.HasResidual = true;
        Force(Gemm.Variant.Texel, p);
        p.Overrides = p.Overrides with { TexelRowGroups = rowGroups };
        Check.Close(RunGemm(p), p.Reference(), Tol, $"gemm texel, {rowGroups} row groups, {wType}");
    }

    [TestCase(0)]
    [TestCase(9)]
    public void RejectsTexelTileHeightOutOfRange(int rowGroups)
    {
        var p = Problem.Random(8, 8, 8, DType.F32, seed: 1);
        Force(Gemm.Variant.Texel, p);
        p.Overrides = p.Overrides with { TexelRowGroups = rowGroups };
        Assert.That(() => RunGemm(p), Throws.ArgumentException.With.Message.Contains("tile height"));
    }

    static IEnumerable<TestCaseData> EpilogueCases()
    {
        foreach (var v in Variants)
            foreach (var e in new[] { Epilogue.None, Epilogue.Gelu, Epilogue.Silu })
                foreach (var bt in WeightTypes)
                    yield return new TestCaseData(v, e, bt);
    }

    [TestCaseSource(nameof(EpilogueCases))]
    public void BiasAndEpilogue(Gemm.Variant variant, Epilogue epilogue, DType biasType)
    {
        var p = Problem.Random(70, 72, 72, DType.F16, seed: 11 + (int)epilogue);
        p.HasBias = true;
        p.BiasType = biasType;
        p.Epilogue = epilogue;
        Force(variant, p);
        Check.Close(RunGemm(p), p.Reference(), Tol, $"gemm {variant} {epilogue} bias {biasType}");
    }

    static IEnumerable<TestCaseData> ResidualCases()
    {
        foreach (var v in Variants)
            foreach (bool gate in new[] { false, true })
                foreach (bool inPlace in new[] { false, true })
                    yield return new TestCaseData(v, gate, inPlace);
    }

    /// <summary>y = residual + gate[(m / 4) % 3] ⊙ gelu(x·wᵀ + b), written to y or over the residual itself.</summary>
    [TestCaseSource(nameof(ResidualCases))]
    public void GatedResidual(Gemm.Variant variant, bool gate, bool inPlace)
    {
        var p = Problem.Random(130, 72, 264, DType.BF16, seed: 5);
        p.HasBias = p.HasResidual = true;
        p.HasGate = gate;
        p.GateRows = 3;
        p.GateRowDiv = 4;
        p.Epilogue = Epilogue.Gelu;
        Force(variant, p);
        Check.Close(RunGemm(p, inPlace), p.Reference(), Tol, $"gemm {variant} residual gate={gate} inPlace={inPlace}");
    }

    /// <summary>y = gate[(m / 4) % 3] ⊙ (x·wᵀ + b) with no residual (the shifted-window gate in to_out's epilogue).</summary>
    [TestCaseSource(nameof(Variants))]
    public void GateWithoutResidual(Gemm.Variant variant)
    {
        var p = Problem.Random(130, 72, 264, DType.F16, seed: 6);
        p.HasBias = p.HasGate = true;
        p.GateRows = 3;
        p.GateRowDiv = 4;
        Force(variant, p);
        Check.Close(RunGemm(p), p.Reference(), Tol, $"gemm {variant} gate without residual");
    }

    static IEnumerable<TestCaseData> ChunkCases()
    {
        foreach (var v in Variants)
            foreach (var dt in WeightTypes)
                yield return new TestCaseData(v, dt);
    }

    /// <summary>A 40 KiB binding limit splits w into column chunks and x/y into row chunks; the tensors start at
    /// unaligned offsets, so every chunk's binding begins before its data.</summary>
    [TestCaseSource(nameof(ChunkCases))]
    public void SplitsWorkOverBindingLimit(Gemm.Variant variant, DType wType)
    {
        var p = Problem.Random(130, 260, 264, wType, seed: 3);
        p.HasBias = p.HasResidual = p.HasGate = true;
        p.GateRows = 5;
        p.GateRowDiv = 3;
        p.Epilogue = Epilogue.Silu;
        Force(variant, p);
        p.Overrides = p.Overrides with { MaxBindingBytes = 40 << 10 };
        Check.Close(RunGemm(p, inPlace: false, leadBytes: 3 * 336), p.Reference(), Tol, $"gemm {variant} {wType} chunked");
    }

    /// <summary>Weights in the CPU GEMM's panels (what model uploads give CPU devices): ragged row tiles, one and
    /// several column blocks, a panel over the L2 budget (column blocks one by one), and the epilogue reading bias and
    /// residual beside them.</summary>
    [TestCase(DType.F32, 67, 64, 264)]
    [TestCase(DType.F32, 3, 32, 8)]
    [TestCase(DType.F16, 1, 32, 16)]
    [TestCase(DType.BF16, 130, 96, 80)]
    [TestCase(DType.F16, 67, 64, 272)]
    [TestCase(DType.F32, 20, 64, 3600)]
    [TestCase(DType.BF16, 20, 64, 3600)]
    public void PanelWeights(DType wType, int m, int n, int k)
    {
        var p = Problem.Random(m, n, k, wType, seed: 500 + m + n + k);
        p.Panels = p.HasBias = p.HasResidual = true;
        Force(Gemm.Variant.Texel, p);
        Check.Close(RunGemm(p), p.Reference(), Tol, $"gemm texel, panel weights, {wType} {m}x{n}x{k}");
    }

    /// <summary>Column chunks of panel weights: each chunk is whole panels, bound at an unaligned offset.</summary>
    [TestCase(DType.F32)]
    [TestCase(DType.BF16)]
    public void PanelWeightsSplitOverBindingLimit(DType wType)
    {
        var p = Problem.Random(130, 256, 272, wType, seed: 7);
        p.Panels = p.HasBias = p.HasResidual = p.HasGate = true;
        p.GateRows = 5;
        p.GateRowDiv = 3;
        p.Epilogue = Epilogue.Gelu;
        Force(Gemm.Variant.Texel, p);
        p.Overrides = p.Overrides with { MaxBindingBytes = 40 << 10 };
        Check.Close(RunGemm(p, inPlace: false, leadBytes: 3 * 336), p.Reference(), Tol, $"gemm texel, panel weights, {wType} chunked");
    }

    [Test]
    public void PanelWeightsNeedTheTexelVariant()
    {
        var p = Problem.Random(8, 32, 16, DType.F32, seed: 9);
        var x = Upload(p.X, DType.F32, [8, 16]);
        var w = UploadPanels(p.W, DType.F32, 32, 16);
        var y = Tensor.Create(Gpu, DType.F32, 8, 32);
        try
        {
            using var seq = new Sequence(Gpu);
            Assert.That(() => Gemm.Record(seq, x, w, null, y, variant: Gemm.Variant.Tiled),
                Throws.ArgumentException.With.Message.Contains("packed for the texel GEMM"));
            Assert.That(() => w.Slice(0, 8), Throws.InvalidOperationException.With.Message.Contains("row-major"));
            Assert.That(() => w.Reshape(16, 32), Throws.InvalidOperationException.With.Message.Contains("first axis"));
            Assert.That(w.Reshape(32, 2, 8).Layout, Is.EqualTo(TensorLayout.GemmPanels), "a convolution's [Cout, taps, Cin] view");
            Assert.That(() => GemmPanels.Pack(new byte[40 * 16 * 4], DType.F32, 40, 16), Throws.ArgumentException.With.Message.Contains("panels"));
            Assert.That(() => GemmPanels.Pack(new byte[32 * 24 * 2], DType.BF16, 32, 24), Throws.ArgumentException.With.Message.Contains("runs of 32 bytes"));
        }
        finally { foreach (var t in new[] { x, w, y }) t.Buffer.Dispose(); }
    }

    /// <summary>The model uploader stores the weights it names in panels on CPU devices (row-major on GPUs), only when
    /// they are whole panels and runs (16-bit K a multiple of 16). The GEMM reads either to the same result.</summary>
    [Test]
    public void DeviceWeightsStoreNamedGemmWeightsInPanels()
    {
        var p = Problem.Random(37, 64, 48, DType.F32, seed: 11);
        var host = new Dictionary<string, HostTensor>
        {
            ["fits.weight"] = HostTensor.FromFloat32(p.W, 64, 48),
            ["bf16.weight"] = HostTensor.FromFloat32(p.W, 64, 48).To(DType.BF16),
            ["bf16 K 40.weight"] = HostTensor.FromFloat32(p.W[..(64 * 40)], 64, 40).To(DType.BF16),
            ["ragged.weight"] = HostTensor.FromFloat32(p.W[..(40 * 48)], 40, 48),
            ["unnamed"] = HostTensor.FromFloat32(p.W, 64, 48),
        };
        using var weights = DeviceWeights.Upload(Gpu, host, gemmWeight: n => n.EndsWith(".weight"));
        var expected = Gemm.ChosenVariant(Gpu.Info) == Gemm.Variant.Texel ? TensorLayout.GemmPanels : TensorLayout.RowMajor;
        Assert.That(weights["fits.weight"].Layout, Is.EqualTo(expected));
        Assert.That(weights["ragged.weight"].Layout, Is.EqualTo(TensorLayout.RowMajor), "40 columns are not whole panels");
        Assert.That(weights["bf16.weight"].Layout, Is.EqualTo(expected));
        Assert.That(weights["bf16 K 40.weight"].Layout, Is.EqualTo(TensorLayout.RowMajor), "16-bit K not whole 32-byte runs");
        Assert.That(weights["unnamed"].Layout, Is.EqualTo(TensorLayout.RowMajor), "not named a GEMM weight");

        CheckWithWeight(p, weights["fits.weight"], "gemm with an uploaded weight");
    }

    /// <summary>y = x·wᵀ of the problem's x with an uploaded w, against the problem's reference.</summary>
    void CheckWithWeight(Problem p, Tensor w, string what)
    {
        var x = Upload(p.X, DType.F32, [p.M, p.K]);
        var y = Tensor.Create(Gpu, DType.F32, p.M, p.N);
        try
        {
            Run(s => Gemm.Record(s, x, w, null, y));
            Check.Close(y.ToArray(), p.Reference(), Tol, what);
        }
        finally { x.Buffer.Dispose(); y.Buffer.Dispose(); }
    }

    /// <summary>A streamed block's upload over the previous block writes the previous block's buffers again when the
    /// plan is the same (no fresh memory), and allocates afresh when it is not; the replaced weights are disposed.</summary>
    [Test]
    public void UploadsReuseThePreviousBlocksBuffersWhenThePlanIsTheSame()
    {
        var p = Problem.Random(19, 64, 48, DType.F32, seed: 12);
        var q = Problem.Random(19, 64, 48, DType.F32, seed: 13);
        Dictionary<string, HostTensor> Block(int i, Problem w) => new()
        {
            [$"block.{i}.weight"] = HostTensor.FromFloat32(w.W, 64, 48),
            [$"block.{i}.bias"] = HostTensor.FromFloat32(w.X[..64], 64),
        };
        var first = DeviceWeights.Upload(Gpu, Block(0, p), gemmWeight: n => n.EndsWith(".weight"));
        var firstBuffer = first["block.0.weight"].Buffer;
        using var second = DeviceWeights.Upload(Gpu, Block(1, q), gemmWeight: n => n.EndsWith(".weight"), reuse: first);
        Assert.That(second["block.1.weight"].Buffer, Is.SameAs(firstBuffer), "the same plan: the buffer is written again");
        Assert.That(first.Bytes, Is.Zero, "the replaced weights hold nothing");
        Assert.Throws<KeyNotFoundException>(() => _ = first["block.0.weight"]);
        Assert.That(second["block.1.bias"].ToArray(), Is.EqualTo(q.X[..64]));

        CheckWithWeight(q, second["block.1.weight"], "gemm with the weight written over the previous block's");

        var other = new Dictionary<string, HostTensor> { ["wide.weight"] = HostTensor.FromFloat32(new float[96 * 48], 96, 48) };
        using var third = DeviceWeights.Upload(Gpu, other, gemmWeight: n => n.EndsWith(".weight"), reuse: DeviceWeights.Upload(Gpu, Block(2, p)));
        Assert.That(third.Bytes, Is.EqualTo(96 * 48 * 4), "another plan: fresh buffers");
    }

    [Test]
    public void SplitDispatchCount()
    {
        // 260×264 f32 weights are 274 KB: a 40 KiB limit needs several column chunks, and y rows (1 KB each) row chunks.
        var x = Tensor.Create(Gpu, DType.F32, 130, 264);
        var w = Tensor.Create(Gpu, DType.F32, 260, 264);
        var y = Tensor.Create(Gpu, DType.F32, 130, 260);
        try
        {
            using var seq = new Sequence(Gpu);
            Gemm.Record(seq, x, w, null, y, Epilogue.None, null, null, 1, new Gemm.Overrides(MaxBindingBytes: 40 << 10));
            Assert.That(seq.Dispatches, Is.GreaterThan(4));
        }
        finally { x.Buffer.Dispose(); w.Buffer.Dispose(); y.Buffer.Dispose(); }
    }

    [Test]
    public void RejectsBadShapes()
    {
        var x = Tensor.Create(Gpu, DType.F32, 4, 8);
        var w = Tensor.Create(Gpu, DType.F16, 6, 8);
        var y = Tensor.Create(Gpu, DType.F32, 4, 6);
        var bad = Tensor.Create(Gpu, DType.F32, 4, 5);
        try
        {
            using var seq = new Sequence(Gpu);
            Assert.That(() => Gemm.Record(seq, bad, w, null, y), Throws.ArgumentException.With.Message.Contains("last dimension"));
            Assert.That(() => Gemm.Record(seq, x, w, null, bad), Throws.ArgumentException.With.Message.Contains("y"));
            Assert.That(() => Gemm.Record(seq, x, w, bad, y), Throws.ArgumentException.With.Message.Contains("bias"));
            Assert.That(() => Gemm.Record(seq, x, w, null, y, residual: bad), Throws.ArgumentException.With.Message.Contains("residual"));
            Assert.That(() => Gemm.Record(seq, x, w, null, y, gate: bad), Throws.ArgumentException.With.Message.Contains("gate"));
            Assert.That(() => Gemm.Record(seq, x, w, null, y, residual: y, gate: bad), Throws.ArgumentException.With.Message.Contains("gate"));
        }
        finally { foreach (var t in new[] { x, w, y, bad }) t.Buffer.Dispose(); }
    }
}
