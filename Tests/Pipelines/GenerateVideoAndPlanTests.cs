using NUnit.Framework;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using T2X.Tests.Host;
using T2X.Tests.Models;
using T2X.Tests.Reference;
using T2X.Vulkan;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Pipelines;

namespace T2X.Tests.Pipelines;

/// <summary>`t2x generate --frames N` (animated GIF + frame PNGs) and `--dry-run` on a tiny random latent video model.</summary>
public sealed class GenerateVideoAndPlanTests : GpuTest
{
    const int Size = 32;   // latents 4 x 4; 2 latent frames decode to 5
    LatentModelFolder _model = null!;
    string _out = "";

    [OneTimeSetUp]
    public void MakeModel()
    {
        var t5 = T5TestModel.Tiny(layers: 1) with { VocabSize = 512 };
        _model = LatentModelFolder.Create(Path.Combine(Path.GetTempPath(), $"t2x-video-{Environment.ProcessId}"), t5, DType.F32, Size,
            latentRgb: [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0]);
        _out = _model.Dir + "-out";
        Directory.CreateDirectory(_out);
    }

    [OneTimeTearDown]
    public void RemoveModel()
    {
        _model.Dispose();
        if (Directory.Exists(_out)) Directory.Delete(_out, true);
    }

    static readonly GenerationSettings Video = new() { Prompt = "a red circle", Seed = 3, Steps = 2, Width = Size, Height = Size, Frames = 5 };

    /// <summary>The frames are the VAE's decode of the sampled latents (double-precision reference), frame by frame.</summary>
    [Test]
    public void FramesAreTheDecodedLatentsFrameByFrame()
    {
        using var pipeline = new TextToImage(Gpu, ModelFolder.Open(_model.Dir));
        var result = pipeline.GenerateFrames(Video);
        var frames = result.Frames;
        var (latents, shape) = result.Latents!.Value;
        Assert.That(shape, Is.EqualTo(new long[] { 1, 4, 2, Size / 8, Size / 8 }));
        var sample = new VaeReference(_model.Vae, _model.VaeWeights).Decode(VaeReference.FromFloats(latents, shape));
        Assert.That((sample.T, sample.H, sample.W), Is.EqualTo((5, Size, Size)));
        Assert.That(frames, Has.Count.EqualTo(5));
        int plane = Size * Size, off = 0, total = 0;
        for (int t = 0; t < 5; t++)
            for (int y = 0; y < Size; y++)
                for (int x = 0; x < Size; x++)
                    for (int c = 0; c < 3; c++)
                    {
                        int want = Rgb8.FromSigned((float)sample[0, c, t, y, x]);
                        int got = frames[t][3 * (y * Size + x) + c];
                        Assert.That(Math.Abs(got - want), Is.LessThanOrEqualTo(1), $"frame {t} ({x}, {y}) channel {c}");
                        if (got != want) off++;
                        total++;
                    }
        Assert.That(off, Is.LessThan(total / 100), "at most a tiny fraction off by one (rounding at .5)");
        Assert.That(frames[1], Is.Not.EqualTo(frames[0]), "the frames differ: a time axis, not one image repeated");
        Assert.That(plane, Is.GreaterThan(0));
    }

    [Test]
    public void GenerateWritesAGifAndEveryFrameWithMetadata()
    {
        string gif = Path.Combine(_out, "v.gif");
        var (code, stdout, stderr) = T2xProcess.Run("generate", "a red circle", "--model", _model.Dir, "--frames", "5", "--steps", "2", "--seed", "3", "-o", gif);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("v.gif").And.Contain("5 frame PNGs"));
        Assert.That(stderr, Does.Contain("text encoder (T5):").And.Contain("transformer (PT-DiT):").And.Contain("VAE decoder:").And.Contain("peak device memory"));
        var pngs = Enumerable.Range(1, 5).Select(i => Path.Combine(_out, $"v-{i:D3}.png")).ToArray();
        Assert.That(Directory.GetFiles(_out).Select(Path.GetFileName).Order(), Is.EqualTo(pngs.Select(Path.GetFileName).Prepend("v.gif").Order()), "no temporary files left");

        // The frame PNGs are exactly what the pipeline makes in-process; each carries the generation and its index.
        using var pipeline = new TextToImage(Gpu, ModelFolder.Open(_model.Dir));
        var frames = pipeline.GenerateFrames(Video).Frames;
        for (int i = 0; i < 5; i++)
        {
            using var png = Image.Load<Rgb24>(pngs[i]);
            var bytes = new byte[3 * Size * Size];
            png.CopyPixelDataTo(bytes);
            Assert.That(bytes, Is.EqualTo(frames[i]), $"frame {i + 1}");
            var meta = PngMetadata.Read(pngs[i]);
            Assert.That((meta.Settings.Prompt, meta.Settings.Seed, meta.Settings.Frames, meta.Model), Is.EqualTo(("a red circle", 3L, 5, "test-latent")));
            Assert.That(png.Metadata.GetPngMetadata().TextData.Single(t => t.Keyword == "frame").Value, Is.EqualTo($"{i + 1}"));
        }

        // The GIF: 5 frames at 25 fps with the metadata as a comment; colours within GIF quantization of the PNGs.
        using (var anim = Image.Load<Rgb24>(gif))
        {
            Assert.That(anim.Frames.Count, Is.EqualTo(5));
            Assert.That(anim.Metadata.GetGifMetadata().Comments.Single(), Does.Contain("prompt: a red circle").And.Contain("frames: 5").And.Contain("seed: 3"));
            for (int i = 0; i < 5; i++)
            {
                Assert.That(anim.Frames[i].Metadata.GetGifMetadata().FrameDelay, Is.EqualTo(VideoFiles.FrameDelay));
                var bytes = new byte[3 * Size * Size];
                anim.Frames.CloneFrame(i).CopyPixelDataTo(bytes);
                double mean = bytes.Zip(frames[i], (a, b) => Math.Abs(a - b)).Average();
                Assert.That(mean, Is.LessThan(8), $"GIF frame {i + 1} is the frame up to 256-colour quantization");
            }
        }

        // Never overwrite without --force (nothing is touched), --force rewrites; a video cannot go to a .png.
        var before = File.GetLastWriteTimeUtc(pngs[4]);
        var refused = T2xProcess.Run("generate", "a red circle", "--model", _model.Dir, "--frames", "5", "--steps", "2", "-o", gif);
        Assert.That((refused.code, refused.stderr.Contains("--force")), Is.EqualTo((2, true)), refused.stderr);
        Assert.That(File.GetLastWriteTimeUtc(pngs[4]), Is.EqualTo(before));
        File.Delete(gif);
        var frameExists = T2xProcess.Run("generate", "a red circle", "--model", _model.Dir, "--frames", "5", "--steps", "2", "-o", gif);
        Assert.That((frameExists.code, frameExists.stderr.Contains("v-001.png")), Is.EqualTo((2, true)), "a frame PNG in the way counts too");
        var png5 = T2xProcess.Run("generate", "a red circle", "--model", _model.Dir, "--frames", "5", "-o", Path.Combine(_out, "x.png"));
        Assert.That((png5.code, png5.stderr.Contains(".gif")), Is.EqualTo((2, true)), png5.stderr);
    }

    [Test]
    public void AShorterVideoUnderTheSameNameRemovesTheLongerOnesExtraFramesAndNothingElse()
    {
        string dir = Path.Combine(_out, "stale");
        Directory.CreateDirectory(dir);
        string gif = Path.Combine(dir, "w.gif");
        var rng = new Random(TestContext.CurrentContext.Random.Next());
        byte[] Frame() { var f = new byte[3 * Size * Size]; rng.NextBytes(f); return f; }
        VideoFiles.Save(gif, Enumerable.Range(0, 9).Select(_ => Frame()).ToArray(), Size, Size, new PngMetadata(Video with { Frames = 9 }, "m", "h", "v"));
        // Files with frame-like names that t2x did not write as frames stay: a plain PNG and a still image of ours.
        PngMetadata.SavePng(Path.Combine(dir, "w-2024.png"), Frame(), Size, Size, null);
        new PngMetadata(Video with { Frames = 1 }, "m", "h", "v").Save(Path.Combine(dir, "w-0100.png"), Frame(), Size, Size);
        File.WriteAllText(Path.Combine(dir, "w-0007.png"), "not an image");
        Assert.That(VideoFiles.StaleFrames(gif, 5).Select(Path.GetFileName), Is.EqualTo(new[] { "w-006.png", "w-007.png", "w-008.png", "w-009.png" }));

        // Without --force the extra frames are in the way even when the new video's own names are free.
        foreach (var own in VideoFiles.Paths(gif, 5)) File.Delete(own);
        var refused = T2xProcess.Run("generate", "a red circle", "--model", _model.Dir, "--frames", "5", "--steps", "2", "-o", gif);
        Assert.That((refused.code, refused.stderr.Contains("w-006.png"), refused.stderr.Contains("--force")), Is.EqualTo((2, true, true)), refused.stderr);

        var shorter = Enumerable.Range(0, 5).Select(_ => Frame()).ToArray();
        VideoFiles.Save(gif, shorter, Size, Size, new PngMetadata(Video, "m", "h", "v"));
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "w-0007.png", "w-001.png", "w-002.png", "w-003.png", "w-004.png", "w-005.png", "w-0100.png", "w-2024.png", "w.gif" }));
        Assert.That(VideoFiles.StaleFrames(gif, 5), Is.Empty);
    }

    [Test]
    public void FramesTheModelCannotMakeAreRefused()
    {
        var builtin = T2xProcess.Run("generate", "a red circle", "--frames", "2");
        Assert.That((builtin.code, builtin.stderr.Contains("still images only")), Is.EqualTo((2, true)), builtin.stderr);
        var four = T2xProcess.Run("generate", "a red circle", "--model", _model.Dir, "--frames", "4");
        Assert.That((four.code, four.stderr.Contains("1, 5, 9")), Is.EqualTo((2, true)), four.stderr);
        var zero = T2xProcess.Run("generate", "a red circle", "--model", _model.Dir, "--frames", "0");
        Assert.That((zero.code, zero.stderr.Contains("frames")), Is.EqualTo((2, true)), zero.stderr);
    }

    /// <summary>--dry-run reads headers only: no prompt, no device (T2X_DEVICE names none), the numbers of the plan.</summary>
    [Test]
    public void DryRunPrintsThePlanWithoutTheDevice()
    {
        var noDevice = new Dictionary<string, string> { ["T2X_DEVICE"] = "no-such-device" };
        var (code, stdout, stderr) = T2xProcess.RunWith(noDevice, "generate", "--model", _model.Dir, "--dry-run", "--memory-budget", "8");
        Assert.That(code, Is.EqualTo(0), stderr);
        TestContext.Out.WriteLine(stdout);
        Assert.That(stdout, Does.Contain($"plan for {Size}x{Size}, device memory budget 8.00 GiB"), "the model's default size");
        Assert.That(stdout, Does.Contain("all stages stay loaded"));

        // Weights computed here from the tensors written: count and device bytes per stage.
        long t5 = _model.T5Weights.Where(kv => !kv.Key.Contains("relative_attention_bias")).Sum(kv => (long)kv.Value.Bytes.Length);
        long transformer = _model.TransformerWeights.Where(kv => kv.Key != PtDitKeys.PosEmbedBuffer).Sum(kv => (long)kv.Value.Bytes.Length);
        Assert.That(stdout, Does.Contain($"1. text encoder (T5)"));
        Assert.That(stdout, Does.Contain($"weights: {_model.T5Weights.Count} tensors, {_model.T5Weights.Count} f32 ("));
        Assert.That(stdout, Does.Contain($"; {GenerationPlan.FormatBytes(t5)} ({t5} bytes) on the device"));
        Assert.That(stdout, Does.Contain($"2. transformer (PT-DiT)"));
        Assert.That(stdout, Does.Contain($"weights: {_model.TransformerWeights.Count} tensors"));
        Assert.That(stdout, Does.Contain($"; {GenerationPlan.FormatBytes(transformer)} ({transformer} bytes) on the device"));
        Assert.That(stdout, Does.Contain($"3. VAE decoder: latents 1×4×4 → 1×{Size}×{Size} px, one plain decode"));
        Assert.That(stdout, Does.Contain($"weights: {_model.VaeWeights.Count} tensors"));
        var plan = GenerationPlan.Make(ModelFolder.Open(_model.Dir), Size, Size, 1, 8L << 30);
        Assert.That(stdout, Does.Contain($"peak device memory: {GenerationPlan.FormatBytes(plan.PeakBytes)} ({plan.PeakBytes} bytes)"));
        Assert.That(plan.PeakBytes, Is.GreaterThan(t5 + transformer));

        // A video size and a budget the stages only fit one at a time.
        var video = GenerationPlan.Make(ModelFolder.Open(_model.Dir), 64, 32, 9, long.MaxValue);
        long budget = video.Stages.Max(s => s.PeakBytes) + 1024;
        Assert.That(budget, Is.LessThan(video.PeakBytes));
        var small = T2xProcess.RunWith(noDevice, "generate", "--model", _model.Dir, "--dry-run", "--width", "64", "--height", "32", "--frames", "9",
            "--memory-budget", (budget / (double)(1L << 30)).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        Assert.That(small.code, Is.EqualTo(0), small.stderr);
        Assert.That(small.stdout, Does.Contain("plan for 9 frames of 64x32").And.Contain("latents 3×4×8 → 9×32×64 px"));
        Assert.That(small.stdout, Does.Contain("stages load and release their weights one after another"));
        Assert.That(small.stdout, Does.Not.Contain("more than the budget"));

        var help = T2xProcess.Run("generate", "--help");
        Assert.That((help.code, help.stdout.Contains("--dry-run") && help.stdout.Contains("--frames N")), Is.EqualTo((0, true)));
        var bad = T2xProcess.Run("generate", "--model", _model.Dir, "--dry-run", "--width", "36");
        Assert.That((bad.code, bad.stderr.Contains("multiple of 8")), Is.EqualTo((2, true)), bad.stderr);
        var badBudget = T2xProcess.Run("generate", "--model", _model.Dir, "--dry-run", "--memory-budget", "-1");
        Assert.That((badBudget.code, badBudget.stderr.Contains("--memory-budget")), Is.EqualTo((2, true)), badBudget.stderr);
    }
}
