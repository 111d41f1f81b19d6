using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Pipelines;

namespace T2X.Tests.Pipelines;

/// <summary>
/// Different requests in one pass (T5 rows, the sampler's CFG pairs, the VAE) give each request exactly what it gives
/// alone: the result before rounding to bytes is compared bit for bit, for a pixel-space and a latent-space model.
/// </summary>
public sealed class BatchedGenerationTests : GpuTest
{
    static GenerationSettings[] Requests(GenerationSettings defaults) =>
    [
        defaults with { Prompt = "a red circle in the center", Negative = "", Seed = 11, Cfg = 4.0, Steps = 2 },
        defaults with { Prompt = "a blue square on the left and a green triangle at the top", Negative = "blurry", Seed = 12, Cfg = 2.5, Steps = 2 },
        defaults with { Prompt = "cat", Negative = "a very long negative prompt that is cut", Seed = 3, Cfg = -1.0, Steps = 2 },
    ];

    static void BatchEqualsAlone(string dir)
    {
        using var pipeline = new TextToImage(Gpu, ModelFolder.Open(dir));
        var requests = Requests(pipeline.Defaults);
        var result = pipeline.GenerateBatch(requests);
        var batched = result.Samples;
        var plan = result.Plan;
        Assert.That(plan.Batch, Is.EqualTo(3));
        // The plan for three requests holds what they take: measured peak within the plan (allocations round up to
        // 256 bytes), and above what one request alone is planned to take.
        long measured = result.Stages.Max(s => s.PeakBytes);
        TestContext.Out.WriteLine($"batch of 3: measured peak {measured}, planned {plan.PeakBytes}; one alone planned {pipeline.Plan(requests[0]).PeakBytes}");
        Assert.That(measured, Is.LessThanOrEqualTo(plan.PeakBytes + 256L * plan.Stages.Sum(s => s.Tensors)));
        Assert.That(measured, Is.GreaterThan(pipeline.Plan(requests[0]).PeakBytes));
        long per = batched.Length / requests.Length;
        for (int i = 0; i < requests.Length; i++)
        {
            var alone = pipeline.GenerateBatch([requests[i]]).Samples;
            Assert.That(alone, Has.Length.EqualTo(per));
            var bits = batched.AsSpan((int)(i * per), (int)per).ToArray().Select(BitConverter.SingleToInt32Bits);
            Assert.That(bits, Is.EqualTo(alone.Select(BitConverter.SingleToInt32Bits)), $"request {i} batched differs from alone");
        }
        // The requests differ from each other, so equality above is not the same image three times.
        Assert.That(batched.AsSpan(0, (int)per).ToArray(), Is.Not.EqualTo(batched.AsSpan((int)per, (int)per).ToArray()));
        // And the bytes that become PNGs: the batch API against the single one.
        var images = pipeline.GenerateBatch(requests).Images;
        for (int i = 0; i < requests.Length; i++)
            Assert.That(images[i][0], Is.EqualTo(pipeline.GenerateRgb(requests[i])), $"request {i}: RGB bytes");
    }

    [Test]
    public void PixelModelBatchEqualsEachRequestAlone()
    {
        string dir = TestModelFolder.Create(Path.Combine(Path.GetTempPath(), $"t2x-batch-pixel-{Guid.NewGuid():N}"));
        try { BatchEqualsAlone(dir); }
        finally { Directory.Delete(dir, true); }
    }

    [Test]
    public void LatentModelBatchEqualsEachRequestAlone()
    {
        var t5 = T5TestModel.Tiny(layers: 1) with { VocabSize = 512 };
        using var model = LatentModelFolder.Create(Path.Combine(Path.GetTempPath(), $"t2x-batch-latent-{Guid.NewGuid():N}"), t5, DType.F32, 32);
        BatchEqualsAlone(model.Dir);
    }

    /// <summary>The shipped model at its own size: its GEMMs (K a multiple of 8) take the texel kernel, its windows and
    /// proxies are the real ones.</summary>
    [Test]
    public void BuiltinModelBatchEqualsEachRequestAlone() => BatchEqualsAlone(Path.Combine(T2X.Tests.Weights.WeightFiles.RepoRoot(), "Host", "BuiltinModel"));

    /// <summary>--batch auto: the largest batch (up to the limit) whose plan fits the budget.</summary>
    [Test]
    public void BatchSizeComesFromTheMemoryPlan()
    {
        var folder = ModelFolder.Open(Path.Combine(T2X.Tests.Weights.WeightFiles.RepoRoot(), "Host", "BuiltinModel"));
        long Peak(int b) => GenerationPlan.Make(folder, 64, 64, 1, long.MaxValue, b).PeakBytes;
        Assert.That(Peak(2), Is.GreaterThan(Peak(1)));
        var chosen = new HashSet<int>();
        foreach (long budget in new[] { Peak(1) / 2, Peak(2), Peak(3) - 1, Peak(3), Peak(6), long.MaxValue })
        {
            int b = GenerationPlan.ChooseBatch(folder, 64, 64, 1, budget, limit: 5);
            chosen.Add(b);
            // The choice fits (or is one, when nothing does) and one more would not (or the limit is reached).
            Assert.That(b == 1 || GenerationPlan.Make(folder, 64, 64, 1, budget, b).Fits, $"budget {budget}: batch {b} fits");
            Assert.That(b == 5 || !GenerationPlan.Make(folder, 64, 64, 1, budget, b + 1).Fits, $"budget {budget}: batch {b + 1} does not fit");
        }
        Assert.That(chosen, Does.Contain(1).And.Contain(5).And.Count.GreaterThan(2));
        Assert.That(GenerationPlan.Make(folder, 64, 64, 1, long.MaxValue, 4).Format(), Does.Contain("4 requests in one pass"));
    }

    [Test]
    public void RequestsThatCannotShareAPassAreRefused()
    {
        var a = new GenerationSettings { Prompt = "a", Width = 16, Height = 16, Steps = 2 };
        Assert.That(Assert.Throws<ArgumentException>(() => TextToImage.CheckBatch([a, a with { Width = 32 }]))!.Message, Does.Contain("share the size"));
        Assert.That(Assert.Throws<ArgumentException>(() => TextToImage.CheckBatch([a, a with { Steps = 3 }]))!.Message, Does.Contain("share the steps"));
        Assert.That(Assert.Throws<ArgumentException>(() => TextToImage.CheckBatch([]))!.Message, Does.Contain("at least one"));
        Assert.DoesNotThrow(() => TextToImage.CheckBatch([a, a with { Prompt = "b", Negative = "c", Seed = 9, Cfg = 1 }]));
    }
}
