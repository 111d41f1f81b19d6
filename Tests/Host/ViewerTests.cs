using System.Diagnostics;
using System.Text.RegularExpressions;
using NUnit.Framework;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Presentation;

namespace T2X.Tests.Host;

/// <summary>
/// Runs the real `t2x view` under Xvfb with the validation layer on (any message makes t2x exit 3), with the
/// synthetic source, and checks what was presented: a screenshot of the final frame against a CPU reference
/// of the letterboxed, bilinearly scaled image, and one presented preview per sampler step.
/// </summary>
public sealed class ViewerTests
{
    static readonly string Root = Path.GetFullPath(Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../.."));
    static readonly string T2x = Path.Combine(Root, "Host/bin/Release/net10.0/t2x.dll");

    /// <summary>Where t2x runs: on a fresh Xvfb server, with no display variables, or with a display that does not exist.</summary>
    enum Display { Xvfb, None, Unreachable }

    sealed record Result(int ExitCode, string Out, string Err)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Err}";
    }

    /// <summary>Runs t2x with the given arguments and the validation layer on.</summary>
    static Result RunT2x(Display display, params string[] args)
    {
        Assert.That(File.Exists(T2x), Is.True, $"build the solution first: {T2x} is missing");
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (display == Display.Xvfb)
        {
            Assert.That(File.Exists("/usr/bin/xvfb-run"), Is.True, "xvfb-run is missing: install the Debian packages xvfb and xauth (.ci/run does)");
            psi.FileName = "xvfb-run";
            foreach (var a in new[] { "-a", "-s", "-screen 0 1280x1100x24", "dotnet", T2x }) psi.ArgumentList.Add(a);
        }
        else
        {
            psi.FileName = "dotnet";
            psi.ArgumentList.Add(T2x);
            psi.Environment.Remove("DISPLAY");
            psi.Environment.Remove("WAYLAND_DISPLAY");
            if (display == Display.Unreachable) psi.Environment["DISPLAY"] = ":987";
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["T2X_VALIDATION"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"t2x {string.Join(" ", args)} did not finish in 120 s");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    [TestCase(false, null, TestName = "ShowsEveryStepAndTheFinalImage_ComputeWritesSwapchain")]
    [TestCase(true, "150x170", TestName = "ShowsEveryStepAndTheFinalImage_BlitAfterResize")]
    public void ShowsEveryStepAndTheFinalImage(bool blit, string? resize)
    {
        var settings = new GenerationSettings { Prompt = "a lighthouse at dusk", Seed = 7, Steps = 6, Width = 40, Height = 28 };
        string shot = Path.Combine(Path.GetTempPath(), $"t2x-view-{Guid.NewGuid():N}.png");
        var args = new List<string>
        {
            "view", settings.Prompt, "--synthetic", "--step-ms", "20", "--seed", "7", "--steps", "6", "--width", "40", "--height", "28",
            "--window", "130x70", "--exit-after-final", "--screenshot", shot,
        };
        if (blit) args.Add("--blit");
        if (resize is not null) args.AddRange(["--resize-after-first", resize]);
        try
        {
            var r = RunT2x(Display.Xvfb, args.ToArray());
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.Out, Does.Contain(blit ? "blitted" : "compute writes the swapchain image"), r.ToString());
            var m = Regex.Match(r.Out, @"presented (\d+) frames: (\d+) previews \+ final \((\d+) dropped");
            Assert.That(m.Success, Is.True, r.ToString());
            Assert.That(int.Parse(m.Groups[2].Value), Is.EqualTo(settings.Steps), "one preview presented per step");
            Assert.That(int.Parse(m.Groups[3].Value), Is.EqualTo(0), "no frame dropped");

            using var image = Image.Load<Rgb24>(shot);
            var (w, h) = resize is null ? (130, 70) : (150, 170);
            Assert.That((image.Width, image.Height), Is.EqualTo((w, h)), "the screenshot has the window's size");
            var final = Letterboxed(SyntheticSource.Final(settings), settings.Width, settings.Height, w, h);
            var lastPreview = Letterboxed(SyntheticSource.Preview(settings, settings.Steps), settings.Width, settings.Height, w, h);
            Assert.That(MaxDifference(image, final), Is.LessThanOrEqualTo(1), "the window shows the final image");
            Assert.That(MaxDifference(image, lastPreview), Is.GreaterThan(8), "the last preview differs from the final image");
        }
        finally { File.Delete(shot); }
    }

    /// <summary>
    /// Input through the viewer's real key and drop handlers (scripted, as a user would press them after each
    /// final image): S saves a PNG with metadata, Tab + typing + Enter regenerates with the new prompt, R picks a
    /// new seed, dropping the first PNG reproduces the first image.
    /// </summary>
    [Test]
    public void SavesEditsReseedsAndReproducesDroppedPng()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"t2x-view-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        string first = Path.Combine(dir, "t2x-5.png"), shot = Path.Combine(dir, "shot.png");
        try
        {
            var r = RunT2x(Display.Xvfb, "view", "first prompt", "--synthetic", "--step-ms", "0", "--seed", "5", "--steps", "3", "--width", "24", "--height", "20",
                "--window", "96x80", "--out", dir, "--exit-after-final", "--screenshot", shot,
                "--script", $"key:s;key:tab;key:ctrl+u;type:second prompts;key:backspace;key:enter;key:s;key:r;key:s;drop:{first}");
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.Out, Does.Contain("presented 16 frames: 12 previews + 4 finals"), r.ToString());

            var one = new GenerationSettings { Prompt = "first prompt", Seed = 5, Steps = 3, Width = 24, Height = 20 };
            var two = one with { Prompt = "second prompt" };
            var saved = Directory.GetFiles(dir, "t2x-*.png").Order().ToArray();
            Assert.That(saved, Has.Length.EqualTo(3), string.Join(", ", saved));
            var metadata = saved.Select(T2X.Vulkan.Imaging.PngMetadata.Read).ToArray();
            Assert.That(metadata.Select(m => m.Model), Is.All.EqualTo("synthetic"));
            var reseeded = metadata.Single(m => m.Settings.Seed != 5).Settings;
            Assert.That(metadata.Select(m => m.Settings), Is.EquivalentTo(new[] { one, two, two with { Seed = reseeded.Seed } }));
            foreach (var (path, m) in saved.Zip(metadata))
            {
                using var png = Image.Load<Rgb24>(path);
                var expected = T2X.Vulkan.Imaging.Rgb8.FromPlanes(SyntheticSource.Final(m.Settings), m.Settings.Width, m.Settings.Height);
                var actual = new byte[expected.Length];
                png.CopyPixelDataTo(actual);
                Assert.That(actual, Is.EqualTo(expected), $"{path} holds the final image of its own settings");
            }

            using var image = Image.Load<Rgb24>(shot);
            Assert.That(MaxDifference(image, Letterboxed(SyntheticSource.Final(one), 24, 20, 96, 80)), Is.LessThanOrEqualTo(1),
                "the dropped PNG's image is shown last");
            Assert.That(MaxDifference(image, Letterboxed(SyntheticSource.Final(reseeded), 24, 20, 96, 80)), Is.GreaterThan(8));

            // --from starts from a saved PNG's settings, as dropping it does.
            File.Delete(shot);
            r = RunT2x(Display.Xvfb, "view", "--from", first, "--synthetic", "--step-ms", "0", "--window", "96x80", "--exit-after-final", "--screenshot", shot);
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.Out, Does.Contain("seed 5").And.Contain("3 previews + final"), r.ToString());
            using var again = Image.Load<Rgb24>(shot);
            Assert.That(MaxDifference(again, Letterboxed(SyntheticSource.Final(one), 24, 20, 96, 80)), Is.LessThanOrEqualTo(1));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>
    /// The real pipeline (a tiny random pixel-space model folder, as the built-in model is laid out): the window
    /// shows exactly the image `t2x generate` writes for the same prompt and seed (window = image size, so no
    /// scaling), after one presented preview per sampler step.
    /// </summary>
    [TestCase(false, TestName = "ShowsTheImageThatGenerateWrites_TinyRandomModel")]
    [TestCase(true, TestName = "ShowsTheImageThatGenerateWrites_BuiltinModel")]
    public void ShowsTheImageThatGenerateWrites(bool builtin)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"t2x-view-model-{Guid.NewGuid():N}");
        try
        {
            string[] model = builtin ? [] : ["--model", T2X.Tests.Pipelines.TestModelFolder.Create(Path.Combine(dir, "model"))];
            string generated = Path.Combine(dir, "generated.png"), shot = Path.Combine(dir, "shot.png");
            Directory.CreateDirectory(dir);
            var g = RunT2x(Display.None, ["generate", "a red circle in the center", .. model, "--seed", "11", "-o", generated]);
            Assert.That(g.ExitCode, Is.EqualTo(0), g.ToString());
            int size = T2X.Vulkan.Imaging.PngMetadata.Read(generated).Settings.Width;
            var r = RunT2x(Display.Xvfb, ["view", "a red circle in the center", .. model, "--seed", "11", "--window", $"{size}x{size}",
                "--exit-after-final", "--screenshot", shot]);
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.Out, Does.Contain(builtin ? "model t2x-builtin-shapes" : "model test-tiny"), r.ToString());
            var steps = T2X.Vulkan.Imaging.PngMetadata.Read(generated).Settings.Steps;
            Assert.That(r.Out, Does.Contain($"presented {steps + 1} frames: {steps} previews + final (0 dropped"), r.ToString());

            using var expected = Image.Load<Rgb24>(generated);
            using var actual = Image.Load<Rgb24>(shot);
            Assert.That((actual.Width, actual.Height), Is.EqualTo((size, size)));
            var want = new byte[3 * size * size];
            var got = new byte[3 * size * size];
            expected.CopyPixelDataTo(want);
            actual.CopyPixelDataTo(got);
            Assert.That(got, Is.EqualTo(want), "the window shows the generated image");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void WithoutADisplaySaysSoAndSuggestsGenerate()
    {
        var r = RunT2x(Display.None, "view", "--synthetic", "--steps", "2");
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.Err, Does.Contain("DISPLAY").And.Contain("t2x generate"), r.ToString());
    }

    [Test]
    public void ADisplayThatCannotBeOpenedIsNamed()
    {
        var r = RunT2x(Display.Unreachable, "view", "--synthetic", "--steps", "2");
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.Err, Does.Contain("cannot open the display ':987'").And.Contain("t2x generate"), r.ToString());
    }

    [Test]
    public void BadOptionsAreUsageErrors()
    {
        var r = RunT2x(Display.None, "view", "--synthetic", "--window", "12by3");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.Err, Does.Contain("--window expects WIDTHxHEIGHT"), r.ToString());
        r = RunT2x(Display.None, "view", "--synthetic", "--width", "0");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.Err, Does.Contain("image size must be"), r.ToString());
    }

    [Test]
    public void AMissingModelFolderIsNamed()
    {
        var r = RunT2x(Display.None, "view", "a cat", "--model", "/nonexistent/model");
        Assert.That(r.ExitCode, Is.EqualTo(3), r.ToString());
        Assert.That(r.Err, Does.Contain("/nonexistent/model"), r.ToString());
    }

    /// <summary>
    /// CPU reference of what the viewer draws: the image scaled into the window with its aspect ratio kept and
    /// centred, bilinear at pixel centres with edges clamped, bytes round((clamp(x,-1,1)+1)/2·255), grey 24 around.
    /// </summary>
    static byte[,,] Letterboxed(float[] chw, int iw, int ih, int ww, int wh)
    {
        double scale = Math.Min(ww / (double)iw, wh / (double)ih);
        int rw = (int)Math.Round(iw * scale), rh = (int)Math.Round(ih * scale);
        int rx = (ww - rw) / 2, ry = (wh - rh) / 2;
        var result = new byte[wh, ww, 3];
        double At(int c, int x, int y) => chw[(c * ih + Math.Clamp(y, 0, ih - 1)) * iw + Math.Clamp(x, 0, iw - 1)];
        for (int y = 0; y < wh; y++)
        for (int x = 0; x < ww; x++)
        for (int c = 0; c < 3; c++)
        {
            if (x < rx || y < ry || x >= rx + rw || y >= ry + rh) { result[y, x, c] = 24; continue; }
            double sx = (x - rx + 0.5) * iw / rw - 0.5, sy = (y - ry + 0.5) * ih / rh - 0.5;
            int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
            double fx = sx - x0, fy = sy - y0;
            double v = (1 - fy) * ((1 - fx) * At(c, x0, y0) + fx * At(c, x0 + 1, y0))
                     + fy * ((1 - fx) * At(c, x0, y0 + 1) + fx * At(c, x0 + 1, y0 + 1));
            result[y, x, c] = (byte)Math.Floor((Math.Clamp(v, -1, 1) + 1) / 2 * 255 + 0.5);
        }
        return result;
    }

    static int MaxDifference(Image<Rgb24> image, byte[,,] expected)
    {
        int max = 0;
        for (int y = 0; y < image.Height; y++)
        for (int x = 0; x < image.Width; x++)
        {
            var p = image[x, y];
            max = Math.Max(max, Math.Abs(p.R - expected[y, x, 0]));
            max = Math.Max(max, Math.Abs(p.G - expected[y, x, 1]));
            max = Math.Max(max, Math.Abs(p.B - expected[y, x, 2]));
        }
        return max;
    }
}
