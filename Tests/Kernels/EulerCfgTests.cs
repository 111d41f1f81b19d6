using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>A resubmitted step and shape errors; single steps are rows of the kernel table (KernelTableTests).</summary>
public sealed class EulerCfgTests : GpuTest
{
    // One recorded sequence submitted twice with only dt rewritten in between, as the sampler does; every sample of
    // the batch has its own guidance scale (a batch of different requests).
    [TestCase(1, 4, 8, 1, 6, 10)]
    [TestCase(2, 4, 8, 3, 5, 7)]
    [TestCase(3, 3, 3, 1, 1, 1)]
    public void ResubmittedWithNewDt(int b, int c, int cout, int f, int h, int w)
    {
        var rng = new Random(b * c * h * w);
        int spatial = f * h * w;
        var z0 = Check.Randn(rng, (long)b * c * spatial);
        var o = Check.Randn(rng, 2L * b * cout * spatial);
        var guidance = KernelTable.EulerCfgGuidance(b);
        using var s = new Scratch(Gpu);
        var Z = s.F32(z0, b, c, f, h, w);
        var O = s.F32(o, 2 * b, cout, f, h, w);
        var Dt = s.F32([0.016949f], 1);
        var G = s.F32(guidance, b);
        using var seq = new Sequence(Gpu);
        EulerCfg.Record(seq, Z, O, Dt, G);
        seq.Run();
        Dt.Upload([0.064516f]);
        seq.Run();
        var want = Array.ConvertAll(z0, v => (double)v);
        KernelTable.EulerCfgStep(want, o, b, c, cout, spatial, 0.016949f, guidance);
        KernelTable.EulerCfgStep(want, o, b, c, cout, spatial, 0.064516f, guidance);
        Check.Close(Z.ToArray(), want, 1e-6, "euler_cfg");
    }

    // A model output without both halves (conditional and unconditional) of every sample, or one guidance scale for
    // several samples, is refused with the shape named.
    [TestCase(2, 2, "modelOutput must be [4,")]
    [TestCase(4, 1, "one scale per sample (2)")]
    public void RejectsMismatchedShapes(int outputRows, int scales, string message)
    {
        using var s = new Scratch(Gpu);
        var Z = s.Empty(DType.F32, 2, 4, 1, 4, 4);
        var O = s.Empty(DType.F32, outputRows, 8, 1, 4, 4);
        var Dt = s.Empty(DType.F32, 1);
        var G = s.F32(Enumerable.Repeat(4f, scales).ToArray(), scales);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => EulerCfg.Record(seq, Z, O, Dt, G)));
        Assert.That(ex!.Message, Does.Contain(message));
    }
}
