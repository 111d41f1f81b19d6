using NUnit.Framework;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Pipelines;

namespace T2X.Tests.Imaging;

public sealed class PngMetadataTests
{
    string _dir = "";

    [SetUp] public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), $"t2x-png-{Guid.NewGuid():N}"));
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [TestCase("a red fox in the snow, 35mm photo", TestName = "RoundTripsLatin1Text")]
    [TestCase("雪の中の赤い狐 — “quoted” ünïcödé", TestName = "RoundTripsUnicodeText")]
    public void RoundTrips(string prompt)
    {
        var rng = new Random(prompt.Length);
        int w = 7, h = 5;
        var rgb = new byte[3 * w * h];
        rng.NextBytes(rgb);
        var metadata = new PngMetadata(new GenerationSettings
        {
            Prompt = prompt, Negative = "blurry, low quality", Seed = rng.NextInt64(), Steps = rng.Next(1, 100),
            Cfg = 4.5 + rng.NextDouble(), Width = w, Height = h,
        }, "Qihoo-T2X-demo", "sha256:0123abcd", "0.1.0");
        string path = Path.Combine(_dir, "out.png");
        metadata.Save(path, rgb, w, h);

        Assert.That(PngMetadata.Read(path), Is.EqualTo(metadata));
        using var image = Image.Load<Rgb24>(path);
        Assert.That((image.Width, image.Height), Is.EqualTo((w, h)));
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            var p = image[x, y];
            int i = 3 * (y * w + x);
            Assert.That((p.R, p.G, p.B), Is.EqualTo((rgb[i], rgb[i + 1], rgb[i + 2])), $"pixel ({x}, {y})");
        }
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "no temporary file left behind");
    }

    [Test]
    public void Latin1TextIsWrittenAsPlainTextChunks()
    {
        string path = Path.Combine(_dir, "t.png");
        new PngMetadata(new GenerationSettings { Prompt = "a cat", Seed = 3, Width = 1, Height = 1 }, "m").Save(path, [1, 2, 3], 1, 1);
        var bytes = File.ReadAllBytes(path);
        string latin1 = System.Text.Encoding.Latin1.GetString(bytes);
        Assert.That(latin1, Does.Contain("tEXtprompt\0a cat"));
        Assert.That(latin1, Does.Contain("tEXtseed\u00003"));
        Assert.That(latin1, Does.Contain("tEXtsize\u00001x1"));
    }

    [Test]
    public void PngWithoutMetadataIsRejectedClearly()
    {
        string path = Path.Combine(_dir, "plain.png");
        PngMetadata.SavePng(path, [0, 0, 0], 1, 1, null);
        var e = Assert.Throws<InvalidDataException>(() => PngMetadata.Read(path))!;
        Assert.That(e.Message, Does.Contain("plain.png").And.Contain("no t2x metadata"));
    }

    [Test]
    public void NonPngIsRejectedClearly()
    {
        string path = Path.Combine(_dir, "notes.png");
        File.WriteAllText(path, "not an image");
        var e = Assert.Throws<InvalidDataException>(() => PngMetadata.Read(path))!;
        Assert.That(e.Message, Does.Contain("notes.png"));
    }

    [Test]
    public void BadFieldIsNamed()
    {
        var text = new Dictionary<string, string> { ["prompt"] = "x", ["seed"] = "12", ["steps"] = "many", ["cfg"] = "4", ["size"] = "8x8" };
        var e = Assert.Throws<InvalidDataException>(() => PngMetadata.FromText(text, "f.png"))!;
        Assert.That(e.Message, Does.Contain("'steps'").And.Contain("many"));
        text["steps"] = "0";
        e = Assert.Throws<InvalidDataException>(() => PngMetadata.FromText(text, "f.png"))!;
        Assert.That(e.Message, Does.Contain("steps must be between"));
    }

    [Test]
    public void PixelConversionRoundsHalfUpAfterClamping()
    {
        Assert.That(Rgb8.FromSigned(-1.5f), Is.EqualTo(0));
        Assert.That(Rgb8.FromSigned(-1f), Is.EqualTo(0));
        Assert.That(Rgb8.FromSigned(0f), Is.EqualTo(128));   // 127.5 rounds up
        Assert.That(Rgb8.FromSigned(1f), Is.EqualTo(255));
        Assert.That(Rgb8.FromSigned(3f), Is.EqualTo(255));
        var rgb = Rgb8.FromPlanes([-1f, 1f, 0f, 1f, -1f, 0f], 2, 1);   // R plane, G plane, B plane of 2 pixels
        Assert.That(rgb, Is.EqualTo(new byte[] { 0, 128, 0, 255, 255, 128 }));
    }
}
