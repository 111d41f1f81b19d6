using System.Text.Json;
using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Tests.Reference;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Sampling;

namespace T2X.Tests.Host;

/// <summary>`t2x fit-preview`: the latent-to-RGB preview projection of a VAE folder, its held-out check, --write.</summary>
public sealed class FitPreviewCommandTests : GpuTest
{
    [Test]
    public void FitsChecksAndWritesTheProjection()
    {
        var c = VaeTestModel.Tiny;
        var weights = VaeTestModel.RandomWeights(c, new Random(4));
        string dir = VaeTestModel.WriteFolder(c, weights, Path.Combine(Path.GetTempPath(), $"t2x-fit-{Guid.NewGuid():N}"));
        try
        {
            var (code, stdout, stderr) = T2xProcess.Run("fit-preview", "--vae", dir, "--seed", "2");
            Assert.That(code, Is.EqualTo(0), stderr);
            using var doc = JsonDocument.Parse(stdout);
            var rows = doc.RootElement.GetProperty("latent_rgb").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
            var m = rows.SelectMany(r => r).ToArray();
            Assert.That(rows.Select(r => r.Length), Is.EqualTo(new[] { 5, 5, 5 }));
            using (var decoder = VaeDecoder.Load(Gpu, dir))
                Assert.That(m, Is.EqualTo(LatentPreview.Fit(decoder, 2)), "the fit LatentPreview makes (what the pipeline would fit)");

            // The held-out check recomputed here: the reference decode of N(0, 1) latents of seed 3, 8×8 block means.
            const int s = 8;
            var z = GaussianNoise.Generate(3, 4L * s * s);
            var sample = new VaeReference(c, weights).Decode(VaeReference.FromFloats(z, [1, 4, 1, s, s]));
            var rms = doc.RootElement.GetProperty("heldout_rms").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            var r2 = doc.RootElement.GetProperty("heldout_r2").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (int ch = 0; ch < 3; ch++)
            {
                double sse = 0, sum = 0, sumSq = 0;
                for (int y = 0; y < s; y++)
                    for (int x = 0; x < s; x++)
                    {
                        double mean = 0;
                        for (int dy = 0; dy < 8; dy++) for (int dx = 0; dx < 8; dx++) mean += sample[0, ch, 0, 8 * y + dy, 8 * x + dx];
                        mean /= 64;
                        double p = m[5 * ch + 4];
                        for (int k = 0; k < 4; k++) p += m[5 * ch + k] * z[(k * s + y) * s + x];
                        sse += (p - mean) * (p - mean);
                        sum += mean;
                        sumSq += mean * mean;
                    }
                double sst = sumSq - sum * sum / (s * s);
                Assert.That(rms[ch], Is.EqualTo(Math.Sqrt(sse / (s * s))).Within(1e-4), $"rms of colour {ch}");
                Assert.That(r2[ch], Is.EqualTo(1 - sse / sst).Within(1e-3), $"R² of colour {ch}");
            }

            var written = T2xProcess.Run("fit-preview", "--vae", dir, "--seed", "2", "--write");
            Assert.That(written.code, Is.EqualTo(0), written.stderr);
            Assert.That(VaeConfig.Load(Path.Combine(dir, "config.json")).LatentRgb, Is.EqualTo(m));

            var missing = T2xProcess.Run("fit-preview");
            Assert.That((missing.code, missing.stderr.Contains("--vae")), Is.EqualTo((2, true)));
            var notVae = T2xProcess.Run("fit-preview", "--vae", Path.GetTempPath());
            Assert.That((notVae.code, notVae.stderr.Contains("config.json")), Is.EqualTo((2, true)), notVae.stderr);
        }
        finally { Directory.Delete(dir, true); }
    }
}
