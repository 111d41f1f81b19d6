using System.Runtime.Intrinsics.X86;
using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using Gemm = T2X.Vulkan.Kernels.Gemm;

namespace T2X.Tests.Tools;

/// <summary>The yardsticks the benchmarks print beside every figure: OpenBLAS at its best kernel, the FMA ceiling.</summary>
public class BaselineTests : GpuTest
{
    [Test]
    public void BestOpenBlasKernelFollowsTheCpusFeatures()
    {
        string? best = OpenBlas.BestKernel();
        if (Avx512F.IsSupported && Avx512F.VL.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported)
            Assert.That(best, Is.EqualTo("SkylakeX"));
        else if (Avx2.IsSupported && Fma.IsSupported)
            Assert.That(best, Is.EqualTo("Haswell"));
        else
            Assert.That(best, Is.Null);
    }

    [Test]
    public void OpenBlasSaysWhichKernelRanAndComputesTheProduct()
    {
        Assume.That(OpenBlas.Available, "libopenblas0 is not installed");
        Assert.That(OpenBlas.Kernel, Does.Match(@"^\w+ \(.+\)$"));
        Assert.That(OpenBlas.Threads, Is.GreaterThanOrEqualTo(1));
        // y = x·wᵀ for a 3×5 by 4×5 product against a plain loop.
        var rng = new Random(3);
        var x = Enumerable.Range(0, 15).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        var w = Enumerable.Range(0, 20).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        var y = new float[12];
        OpenBlas.Gemm(x, w, y, 3, 4, 5);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
            {
                double want = 0;
                for (int k = 0; k < 5; k++) want += (double)x[i * 5 + k] * w[j * 5 + k];
                Assert.That(y[i * 4 + j], Is.EqualTo(want).Within(1e-5), $"y[{i},{j}]");
            }
    }

    [Test]
    public void FmaCeilingIsMeasuredAtTheDevicesVectorWidth()
    {
        int bits = FmaCeiling.VectorBits(Gpu.Info);
        Assert.That(bits, Is.AnyOf(128, 256, 512));
        if (Gpu.Info.Name.Contains("bits")) Assert.That(Gpu.Info.Name, Does.Contain($"{bits} bits"));
        double? gflops = FmaCeiling.Measure(bits, 1);
        if (bits == 256 && Fma.IsSupported || bits == 512 && Avx512F.IsSupported)
            Assert.That(gflops, Is.GreaterThan(1.0), "a core does more than a GFLOP/s of fused multiply-adds");
        else
            Assert.That(gflops, Is.Null);
    }
}

/// <summary>`t2x bench --only gemm --texel-row-groups`: one row per tile height, timed beside the same baseline, with
/// `chosen` on the engine's own height only.</summary>
public class GemmBenchTests : GpuTest
{
    [Test]
    public void TileHeightsGetOneRowEachAndOnlyTheEnginesIsChosen()
    {
        Assume.That(Gpu.Info.IsCpu, "the texel GEMM is the CPU devices' design");
        var rows = new GemmBench().Run(Gpu, new BenchOptions(Quick: true, Repeats: 1, GemmShape: (40, 64, 48), TexelRowGroups: [1, Gemm.TexelRowGroups]))
            .Where(r => (string)r.Fields["dtype"] == "f32").ToList();
        Assert.That(rows.Select(r => r.Fields["row_groups"]), Is.EqualTo(new object[] { 1, Gemm.TexelRowGroups }));
        Assert.That(rows.Select(r => r.Fields["chosen"]), Is.EqualTo(new object[] { false, true }));
        Assert.That(rows.Select(r => (double)r.Fields["gflops"]), Is.All.GreaterThan(0));
        if (OpenBlas.Available)
            Assert.That(rows.Select(r => r.Fields["baseline_gflops"]).Distinct().Count(), Is.EqualTo(1), "one baseline, timed in turns with both");
    }

    /// <summary>Where the shape is whole panels, both weight layouts get a row and the engine's (panels) is chosen; each
    /// f32 result was checked against OpenBLAS inside the bench.</summary>
    [Test]
    public void PanelWeightsAreChosenWithRowMajorBeside()
    {
        Assume.That(Gpu.Info.IsCpu, "the texel GEMM is the CPU devices' design");
        var rows = new GemmBench().Run(Gpu, new BenchOptions(Quick: true, Repeats: 1, GemmShape: (40, 64, 64)))
            .Where(r => (string)r.Fields["variant"] == "texel").ToList();
        Assert.That(rows.Select(r => ((string)r.Fields["dtype"], r.Fields["w_layout"], r.Fields["chosen"])), Is.EqualTo(new (string, object, object)[]
        {
            ("f32", "panels", true), ("f32", "rows", false),
            ("f16", "panels", true), ("f16", "rows", false),
            ("bf16", "panels", true), ("bf16", "rows", false),
        }));
        Assert.That(rows.Select(r => (double)r.Fields["gflops"]), Is.All.GreaterThan(0));
    }
}
