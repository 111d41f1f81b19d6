using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Models.PtDit;

namespace T2X.Tests.Tools;

/// <summary>The ptdit bench's measurements at a tiny width, so that they keep running (no timed assertions): the
/// engine's layer time and op-class split, and where PyTorch is installed, its model of the block (ptdit_layer.py)
/// computes what the engine computes.</summary>
public class PtDitBenchTests : GpuTest
{
    static readonly PtDitConfig Tiny = PtDitConfig.Released with { NumHeads = 2, HeadDim = 16, CaptionChannels = 24, CrossAttentionDim = 32 };

    [TestCase(DType.F32)]
    [TestCase(DType.BF16)]
    public void EngineAndPyTorchMeasureTheSameLayer(DType dtype)
    {
        // 32² latents: 16×16 tokens, 2×2 windows of 8×8, so the shifted window wraps.
        var layer = new PtDitLayerCase(Tiny, latent: 32, dtype, batch: 2, textLength: 5);
        var engine = PtDitBench.MeasureEngine(Gpu, layer, repeats: 1);
        Assert.That(double.IsFinite(engine.LayerSeconds), Is.True);
        Assert.That(engine.ClassSeconds.Keys, Is.EquivalentTo(new[] { PtDitBench.Gemm, PtDitBench.DenseAttention, PtDitBench.WindowAttention, PtDitBench.Norms }));
        Assert.That(engine.Output, Has.Length.EqualTo(2 * Tiny.OutChannels * 32 * 32));
        Assert.That(engine.Output.All(float.IsFinite), Is.True);

        if (!SystemPyTorch.Installed()) Assert.Fail("PyTorch is not installed (bash Tools/install-deps.sh installs python3-torch): the bench's PyTorch baseline is not checked");
        var torch = PtDitBench.MeasureTorch(layer, engine.Output, repeats: 1);
        TestContext.Out.WriteLine($"PyTorch against the engine: relative error {torch.RelError:e2}");
        Assert.That(torch.RelError, Is.LessThanOrEqualTo(PtDitBench.TorchTolerance), "PyTorch's PT-DiT against the engine's output");
        Assert.That(torch.Threads, Is.EqualTo(Environment.ProcessorCount));
        Assert.That(double.IsFinite(torch.LayerSeconds), Is.True);
    }
}
