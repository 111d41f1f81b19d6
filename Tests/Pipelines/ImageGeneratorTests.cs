using NUnit.Framework;
using T2X.Vulkan;
using T2X.Tests.Weights;
using T2X.Vulkan.Pipelines;

namespace T2X.Tests.Pipelines;

/// <summary>The public facade on the built-in model: progress with previews for every step, the same image as the
/// pipeline, one caller at a time, cancellation, the steps as an async stream, and requests checked field by field.</summary>
public class ImageGeneratorTests : GpuTest
{
    static string ModelDir => Path.Combine(WeightFiles.RepoRoot(), "Host", "BuiltinModel");

    sealed class Collect : IProgress<GenerationProgress>
    {
        public readonly List<GenerationProgress> Items = [];
        public Action<GenerationProgress>? OnReport;
        public void Report(GenerationProgress value)
        {
            lock (Items) Items.Add(value);
            OnReport?.Invoke(value);
        }
    }

    [Test]
    public async Task GenerateAsyncReportsEveryStepWithAPreviewAndMakesThePipelinesImage()
    {
        using var generator = ImageGenerator.Open(Gpu, ModelDir);
        var progress = new Collect();
        var image = await generator.GenerateAsync(new GenerationRequest("a red circle in the center") { Seed = 3, Steps = 3 }, progress);
        Assert.That(progress.Items.Select(p => p.Step), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(progress.Items.All(p => p.Steps == 3 && p.Preview is { Width: 64, Height: 64 } && p.Preview.Rgb.Length == 64 * 64 * 3));
        Assert.That(progress.Items[0].Preview!.Rgb, Is.Not.EqualTo(progress.Items[2].Preview!.Rgb), "the preview changes as the image forms");
        Assert.That((image.Width, image.Height, image.Seed), Is.EqualTo((64, 64, 3L)));

        using var pipeline = new TextToImage(Gpu, ModelFolder.Open(ModelDir));
        var settings = pipeline.Defaults with { Prompt = "a red circle in the center", Seed = 3, Steps = 3 };
        Assert.That(image.Settings, Is.EqualTo(settings));
        Assert.That(image.Image.Rgb, Is.EqualTo(pipeline.GenerateRgb(settings)));
        string path = Path.Combine(Path.GetTempPath(), $"t2x-generator-{Guid.NewGuid():N}.png");
        try
        {
            image.Save(path);
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(image.ToPng()));
            Assert.Throws<T2X.Vulkan.Files.OutputExistsException>(() => image.Save(path));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public async Task OneCallerAtATimeAndCancelLeavesTheGeneratorUsable()
    {
        using var generator = ImageGenerator.Open(Gpu, ModelDir);
        using var cancel = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new Collect { OnReport = _ => started.TrySetResult() };
        var running = generator.GenerateAsync(new GenerationRequest("a blue square") { Seed = 1, Steps = 500, Previews = false }, progress, cancel.Token);
        await started.Task;
        var busy = Assert.Throws<GeneratorBusyException>(() => generator.GenerateAsync(new GenerationRequest("a green circle") { Steps = 2 }));
        Assert.That(busy!.Message, Does.Contain("one caller at a time"));
        cancel.Cancel();
        Assert.That(async () => await running, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(progress.Items.Count, Is.LessThan(500));
        Assert.That(progress.Items.All(p => p.Preview is null), "no previews when the request asks for none");

        var steps = new List<GenerationStep>();
        await foreach (var s in generator.GenerateStepsAsync(new GenerationRequest("a green circle") { Seed = 2, Steps = 2 })) steps.Add(s);
        Assert.That(steps.Select(s => s.Progress?.Step), Is.EqualTo(new int?[] { 1, 2, null }));
        Assert.That(steps[^1].Image!.Seed, Is.EqualTo(2));
    }

    [TestCase("steps", 0, null, null, null)]
    [TestCase("steps", 1001, null, null, null)]
    [TestCase("cfg", null, double.NaN, null, null)]
    [TestCase("width", null, null, 0, null)]
    [TestCase("width", null, null, 63, null)]
    [TestCase("height", null, null, null, 63)]
    [TestCase("height", null, null, 64, 100000)]
    public void BadRequestsNameTheirField(string field, int? steps, double? cfg, int? width, int? height)
    {
        using var generator = ImageGenerator.Open(Gpu, ModelDir);
        var e = Assert.Throws<GenerationRequestException>(() => generator.Resolve(new GenerationRequest("x") { Steps = steps, Cfg = cfg, Width = width, Height = height }));
        Assert.That(e!.Field, Is.EqualTo(field));
        Assert.That(e.Message, Does.Contain(field));
        Assert.That(generator.Resolve(new GenerationRequest("x")).Steps, Is.EqualTo(20), "absent fields take the model's defaults");
    }
}
