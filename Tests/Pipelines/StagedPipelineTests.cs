using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Vulkan;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Pipelines;

/// <summary>
/// The pipeline's memory plan and its staged run on a tiny latent model whose T5 is the largest part (as T5-XXL is in
/// the release): with a budget below the sum of the stages, each stage loads and releases its weights and T5 streams
/// its blocks, and the measured device peak is the largest stage, not the sum; the image is the same bits.
/// </summary>
public sealed class StagedPipelineTests : GpuTest
{
    const int Size = 32;   // latents 4 x 4
    LatentModelFolder _model = null!;

    [OneTimeSetUp]
    public void MakeModel()
    {
        // 6 blocks of d_ff 4096 in f16: T5 ≈ 4.8 MB of weights against 2.3 MB for the VAE and 0.1 MB for the transformer.
        var t5 = T5TestModel.Tiny(layers: 6) with { VocabSize = 512, DModel = 32, DKv = 8, NumHeads = 4, DFf = 4096 };
        _model = LatentModelFolder.Create(Path.Combine(Path.GetTempPath(), $"t2x-staged-{Environment.ProcessId}"), t5, DType.F16, Size,
            latentRgb: [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0]);
    }

    [OneTimeTearDown]
    public void RemoveModel() => _model.Dispose();

    static long Bytes(IEnumerable<KeyValuePair<string, HostTensor>> w) => w.Sum(kv => (long)kv.Value.Bytes.Length);

    /// <summary>Device bytes of each stage's weights, computed here from the tensors that were written.</summary>
    (long t5, long t5Outside, long t5Block, long transformer, long vae) WeightBytes()
    {
        var t5 = _model.T5Weights.Where(kv => !kv.Key.Contains("relative_attention_bias")).ToList();
        long outside = Bytes(t5.Where(kv => !kv.Key.StartsWith("encoder.block.")));
        long block = Enumerable.Range(0, _model.T5.NumLayers).Max(i => Bytes(t5.Where(kv => kv.Key.StartsWith($"encoder.block.{i}."))));
        long transformer = Bytes(_model.TransformerWeights.Where(kv => kv.Key != PtDitKeys.PosEmbedBuffer));
        // The VAE's weights as the loaded decoder holds them (f32 in the kernels' layouts, folded time-tap copies included).
        using var decoder = VaeDecoder.Load(Gpu, ModelFolder.Open(_model.Dir).Vae!);
        long vae = decoder.WeightBytes;
        return (Bytes(t5), outside, block, transformer, vae);
    }

    [Test]
    public void PlanCountsTheWeightsOfEveryStage()
    {
        var folder = ModelFolder.Open(_model.Dir);
        var plan = GenerationPlan.Make(folder, Size, Size, 1, long.MaxValue);
        var w = WeightBytes();
        Assert.That(plan.Stages.Take(2).Select(s => s.DeviceWeightBytes), Is.EqualTo(new[] { w.t5, w.transformer }));
        // The plan rounds every VAE tensor up to the 256-byte alignment; the loaded weights (one buffer here) lack only
        // the padding after the last one.
        Assert.That(plan.Stages[2].DeviceWeightBytes, Is.InRange(w.vae, w.vae + 255));
        Assert.That(plan.Stages[0].Tensors, Is.EqualTo(_model.T5Weights.Count));
        Assert.That(plan.Stages[1].Tensors, Is.EqualTo(_model.TransformerWeights.Count));
        Assert.That(plan.Stages[2].Tensors, Is.EqualTo(_model.VaeWeights.Count));
        Assert.That(plan.Stages[0].Stored.Single().DType, Is.EqualTo(DType.F16));
        Assert.That(plan.KeepResident, Is.True, "unlimited budget: everything stays loaded");
        Assert.That(plan.PeakBytes, Is.EqualTo(w.t5 + w.transformer + plan.Stages[2].DeviceWeightBytes + plan.Stages.Max(s => s.ActivationBytes)));

        var streamed = GenerationPlan.Make(folder, Size, Size, 1, plan.Stages[0].PeakBytes - 1);
        Assert.That((streamed.KeepResident, streamed.StreamTextEncoder), Is.EqualTo((false, true)));
        Assert.That(streamed.Stages[0].WeightBytesAtOnce, Is.EqualTo(w.t5Outside + w.t5Block));
        Assert.That(streamed.PeakBytes, Is.EqualTo(streamed.Stages.Max(s => s.PeakBytes)));
    }

    [Test]
    public void StagesReleaseTheirWeightsAndThePeakIsTheLargestStage()
    {
        var folder = ModelFolder.Open(_model.Dir);
        var settings = folder.Defaults with { Prompt = "a red circle", Seed = 11 };
        var w = WeightBytes();

        (byte[] rgb, GenerationPlan plan, StageRun[] stages) Run(long budget)
        {
            long before = Gpu.AllocatedBytes;   // what other tests left on the shared device
            using var pipeline = new TextToImage(Gpu, folder, budget);
            var result = pipeline.GenerateFrames(settings);
            return (result.Frames[0], result.Plan, result.Stages.Select(s => s with { PeakBytes = s.PeakBytes - before }).ToArray());
        }
        var kept = Run(long.MaxValue / 2);
        var loose = kept.plan;
        // A budget that fits every stage with T5 streamed, but not T5 whole nor the stages together.
        long budget = new[] { loose.Stages[1].PeakBytes, loose.Stages[2].PeakBytes, w.t5Outside + w.t5Block + loose.Stages[0].ActivationBytes }.Max() + 4096;
        Assert.That(budget, Is.LessThan(loose.Stages[0].PeakBytes), "the test model's T5 alone exceeds the budget");
        var staged = Run(budget);

        Assert.That(staged.rgb, Is.EqualTo(kept.rgb), "staging and streaming change where weights live, not the image");
        Assert.That((staged.plan.KeepResident, staged.plan.StreamTextEncoder), Is.EqualTo((false, true)));
        Assert.That(staged.stages.Select(s => s.Name), Is.EqualTo(staged.plan.Stages.Select(s => s.Name)));
        long measuredPeak = staged.stages.Max(s => s.PeakBytes);
        TestContext.Out.WriteLine($"weights T5 {w.t5} (outside {w.t5Outside}, block {w.t5Block}), transformer {w.transformer}, VAE {w.vae}; budget {budget}");
        for (int i = 0; i < 3; i++)
            TestContext.Out.WriteLine($"{staged.plan.Stages[i].Name}: planned {staged.plan.Stages[i].PeakBytes} (weights {staged.plan.Stages[i].WeightBytesAtOnce}), measured {staged.stages[i].PeakBytes}; kept: measured {kept.stages[i].PeakBytes}");
        TestContext.Out.WriteLine($"peak: staged {measuredPeak} (planned {staged.plan.PeakBytes}), kept {kept.stages.Max(s => s.PeakBytes)} (planned {loose.PeakBytes})");

        // Measured against planned per stage: the plan is an upper bound, tight up to allocation alignment (≤ 256 bytes per tensor).
        for (int i = 0; i < 3; i++)
        {
            var p = staged.plan.Stages[i];
            Assert.That(staged.stages[i].PeakBytes, Is.InRange(p.PeakBytes * 9 / 10, p.PeakBytes + 256L * p.Tensors), p.Name);
        }
        Assert.That(measuredPeak, Is.LessThanOrEqualTo(budget + 256L * staged.plan.Stages.Max(s => s.Tensors)));
        Assert.That(staged.stages[0].PeakBytes, Is.LessThanOrEqualTo(kept.stages[0].PeakBytes - (_model.T5.NumLayers - 1) * w.t5Block + 4096),
            "T5 streamed: the peak of T5 kept whole less all blocks but one");
        Assert.That(measuredPeak, Is.LessThan(w.t5), "less than T5's weights alone");
        Assert.That(measuredPeak, Is.LessThan(w.t5Outside + w.t5Block + w.transformer + w.vae), "not the sum of the stages");
        long keptPeak = kept.stages.Max(s => s.PeakBytes);
        Assert.That(keptPeak, Is.GreaterThanOrEqualTo(w.t5 + w.transformer + w.vae), "kept: all weights at once");
        Assert.That(keptPeak, Is.LessThanOrEqualTo(loose.PeakBytes + 256L * loose.Stages.Sum(s => s.Tensors)), "kept: within the plan");
    }

    /// <summary>A tiled video decode (3 latent frames of 8×8 in tiles of 4×4): the VAE stage's measured peak against the plan's.</summary>
    [Test]
    public void TiledVideoDecodeStaysWithinThePlan()
    {
        var folder = ModelFolder.Open(_model.Dir);
        var settings = folder.Defaults with { Prompt = "a blue square", Seed = 2, Width = 64, Height = 64, Frames = 9, Steps = 1 };
        long before = Gpu.AllocatedBytes;
        using var pipeline = new TextToImage(Gpu, folder, memoryBudget: 1);   // every stage alone, T5 streamed
        var result = pipeline.GenerateFrames(settings);
        Assert.That(result.Frames, Has.Count.EqualTo(9));
        var plan = result.Plan;
        var vae = plan.Stages[2];
        Assert.That(vae.Detail, Does.Contain("tiled"));
        long measured = result.Stages[2].PeakBytes - before;
        TestContext.Out.WriteLine($"VAE stage: planned {vae.PeakBytes} (weights {vae.WeightBytesAtOnce}), measured {measured}");
        Assert.That(measured, Is.InRange(vae.PeakBytes * 9 / 10, vae.PeakBytes + 256L * vae.Tensors));
    }

    [Test]
    public void PlanRefusesSizesAndFramesTheModelCannotMake()
    {
        var folder = ModelFolder.Open(_model.Dir);
        Assert.That(Assert.Throws<ArgumentException>(() => GenerationPlan.Make(folder, 36, 32, 1, long.MaxValue))!.Message, Does.Contain("multiple of 8"));
        Assert.That(Assert.Throws<ArgumentException>(() => GenerationPlan.Make(folder, 32, 32, 4, long.MaxValue))!.Message, Does.Contain("1, 5, 9"));
        Assert.That(GenerationPlan.Make(folder, 32, 32, 9, long.MaxValue).LatentFrames, Is.EqualTo(3));
    }
}
