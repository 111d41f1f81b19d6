using NUnit.Framework;
using T2X.Tests.Host;
using T2X.Vulkan;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Presentation;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Text;

namespace T2X.Tests.Pipelines;

public sealed class TextToImageTests : GpuTest
{
    string _dir = "";

    [OneTimeSetUp]
    public void MakeModel() => _dir = TestModelFolder.Create(Path.Combine(Path.GetTempPath(), $"t2x-pipeline-{Environment.ProcessId}"));

    [OneTimeTearDown]
    public void RemoveModel() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    static readonly GenerationSettings Settings = new()
    {
        Prompt = "A <b>red</b> circle", Negative = "", Seed = 42, Steps = 3, Cfg = 3.5, Width = TestModelFolder.Size, Height = TestModelFolder.Size,
    };

    /// <summary>The pipeline keeps the text on the device; the result must equal the sampler fed the same text from the
    /// host. The pipeline leaves the padding after the longest text unencoded, the host path encodes every position as
    /// transformers does: the text mask must make the two bit for bit the same.</summary>
    [Test]
    public void DeviceTextPathEqualsHostSampler()
    {
        var folder = ModelFolder.Open(_dir);
        float[] got;
        var frames = new List<Frame>();
        float[]? lastPreview = null;
        using (var pipeline = new TextToImage(Gpu, folder))
        {
            pipeline.Generate(Settings, f =>
            {
                frames.Add(f);
                if (!f.IsFinal) lastPreview = f.Image.ToArray();
            }, CancellationToken.None);
            got = frames[^1].Image.ToArray();
        }
        Assert.That(frames.Select(f => (f.Step, f.IsFinal)), Is.EqualTo(new[] { (1, false), (2, false), (3, false), (3, true) }));
        Assert.That(lastPreview, Is.EqualTo(got), "after the last step the clean-image estimate is the sample itself");

        // The same generation through host arrays: tokenizer → encoder → download → sampler with host text.
        var tokenizer = T5Tokenizer.FromFolder(folder.Tokenizer);
        using var encoder = T5Encoder.Load(Gpu, folder.TextEncoder);
        using var text = TextConditioning.Encode(tokenizer, encoder, [Settings.Prompt], Settings.Negative, folder.MaxLength, folder.CleanCaption, releaseEncoder: false,
            encodePadding: true);
        Assert.That(text.Texts[0], Is.EqualTo("a red circle"), "the caption cleaner ran");
        var embeddings = text.Embeddings.ToArray();
        var mask = text.Mask.ToArray();
        int half = embeddings.Length / 2, halfMask = mask.Length / 2;
        using var model = PtDitModel.Load(Gpu, folder.Transformer);
        var options = new SamplerOptions { Steps = Settings.Steps, CfgScale = Settings.Cfg, UseTimestepTransform = false };
        var noise = GaussianNoise.Generate(42, 3L * TestModelFolder.Size * TestModelFolder.Size);
        var want = RectifiedFlowSampler.Sample(model, options, noise, 1, 1, TestModelFolder.Size, TestModelFolder.Size,
            new(embeddings[..half], mask[..halfMask], embeddings[half..], mask[halfMask..], folder.MaxLength), TestModelFolder.Size, TestModelFolder.Size);
        Assert.That(got, Is.EqualTo(want));
    }

    [Test]
    public void RefusesSizesTheTransformerCannotMake()
    {
        using var pipeline = new TextToImage(Gpu, ModelFolder.Open(_dir));
        var ex = Assert.Throws<ArgumentException>(() => pipeline.Generate(Settings with { Width = 18 }, _ => { }, CancellationToken.None))!;
        Assert.That(ex.Message, Does.Contain("16").And.Contain("20"), "the message names the allowed sizes nearby");
    }

    [Test]
    public void GenerateCommandWritesReproduciblePngs()
    {
        string outDir = _dir + "-out";
        Directory.CreateDirectory(outDir);
        string a = Path.Combine(outDir, "a.png"), b = Path.Combine(outDir, "b.png"), c = Path.Combine(outDir, "c.png");
        var (code, stdout, stderr) = T2xProcess.Run("generate", "a red circle", "--model", _dir, "--seed", "7", "-o", a);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("a.png"));
        Assert.That(stderr, Does.Contain("seed 7").And.Contain("step   3/3"));
        var meta = PngMetadata.Read(a);
        Assert.That((meta.Settings.Prompt, meta.Settings.Seed, meta.Settings.Steps, meta.Model), Is.EqualTo(("a red circle", 7L, 3, "test-tiny")));
        Assert.That(meta.ModelHash, Has.Length.EqualTo(12));

        // Same prompt and seed: the same bytes. From the file's own metadata: the same bytes again.
        Assert.That(T2xProcess.Run("generate", "--prompt", "a red circle", "--model", _dir, "--seed", "7", "--output", b).code, Is.EqualTo(0));
        Assert.That(File.ReadAllBytes(b), Is.EqualTo(File.ReadAllBytes(a)));
        Assert.That(T2xProcess.Run("generate", "--from", a, "--model", _dir, "-o", c).code, Is.EqualTo(0));
        Assert.That(File.ReadAllBytes(c), Is.EqualTo(File.ReadAllBytes(a)));

        // Never overwrite without --force; a different seed makes a different image.
        var refused = T2xProcess.Run("generate", "a red circle", "--model", _dir, "--seed", "8", "-o", a);
        Assert.That((refused.code, refused.stderr.Contains("--force")), Is.EqualTo((2, true)));
        Assert.That(T2xProcess.Run("generate", "a red circle", "--model", _dir, "--seed", "8", "-o", a, "--force").code, Is.EqualTo(0));
        Assert.That(File.ReadAllBytes(a), Is.Not.EqualTo(File.ReadAllBytes(b)));

        // --count writes one file per seed into a folder.
        string many = Path.Combine(outDir, "many");
        Assert.That(T2xProcess.Run("generate", "a blue square", "--model", _dir, "--seed", "100", "--count", "2", "-o", many).code, Is.EqualTo(0));
        Assert.That(Directory.GetFiles(many).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "a-blue-square-100.png", "a-blue-square-101.png" }));
        Directory.Delete(outDir, true);
    }

    [Test]
    public void EveryGenerationInOneProcessMeasuresThePeakTheFirstDid()
    {
        string outDir = Path.Combine(Path.GetTempPath(), $"t2x-count-{Guid.NewGuid():N}");
        try
        {
            var (code, _, stderr) = T2xProcess.Run("generate", "a red circle", "--model", _dir, "--seed", "1", "--steps", "2", "--count", "3", "-o", outDir);
            Assert.That(code, Is.EqualTo(0), stderr);
            var peaks = stderr.Split('\n').Where(l => l.Contains("peak device memory")).ToArray();
            Assert.That(peaks, Has.Length.EqualTo(3));
            Assert.That(peaks.Distinct(), Has.Exactly(1).Items, "the sampler of a generation does not stay beside the next one's text encoder:\n" + string.Join("\n", peaks));
        }
        finally { if (Directory.Exists(outDir)) Directory.Delete(outDir, true); }
    }

    [Test]
    public void GenerateCommandExplainsBadInput()
    {
        var noPrompt = T2xProcess.Run("generate", "--model", _dir);
        Assert.That((noPrompt.code, noPrompt.stderr.Contains("no prompt")), Is.EqualTo((2, true)));
        var badSize = T2xProcess.Run("generate", "x", "--model", _dir, "--width", "18");
        Assert.That(badSize.code, Is.EqualTo(2));
        Assert.That(badSize.stderr, Does.Contain("image"));
        var noModel = T2xProcess.Run("generate", "x", "--model", Path.Combine(_dir, "missing"));
        Assert.That((noModel.code, noModel.stderr.Contains("does not exist")), Is.EqualTo((3, true)));
        var unknown = T2xProcess.Run("generate", "x", "--model", _dir, "--stpes", "3");
        Assert.That((unknown.code, unknown.stderr.Contains("--stpes")), Is.EqualTo((2, true)));
    }
}
