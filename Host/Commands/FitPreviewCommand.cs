using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Sampling;

namespace T2X.Host.Commands;

/// <summary>
/// t2x fit-preview --vae DIR [--seed N] [--write] [--device N|name]
/// Fits the per-step preview projection rgb = M · (latent, 1) of a VAE folder by least squares of the decoded pixels
/// (each latent pixel's 8×8 block mean) on the latents (<see cref="LatentPreview.Fit"/>), checks it on held-out latents
/// (another seed: RMS error and R² per colour), and prints {"latent_rgb": M, "heldout_rms": [...], "heldout_r2": [...]}.
/// --write stores M as "latent_rgb" in DIR/config.json (the pipeline then uses it instead of fitting at start-up).
/// </summary>
public static class FitPreviewCommand
{
    const int HeldOutSide = 8;

    public static int Run(Args a)
    {
        string dir = a.Require("vae");
        int seed = a.Int("seed", 0);
        bool write = a.Flag("write");
        string? device = a.Option("device");
        a.Done();
        string configPath = Path.Combine(dir, "config.json");
        if (!File.Exists(configPath)) throw new UsageException($"'{dir}' is not a VAE folder: it has no config.json");

        using var gpu = new Gpu(new GpuOptions { Device = device });
        using var vae = VaeDecoder.Load(gpu, dir);
        var m = LatentPreview.Fit(vae, seed);
        var (rms, r2) = HeldOut(vae, m, seed + 1);
        int n = vae.Config.EmbedDim + 1;
        var rows = Enumerable.Range(0, 3).Select(r => m.Skip(r * n).Take(n).ToArray()).ToArray();
        Console.WriteLine(JsonSerializer.Serialize(new { latent_rgb = rows, heldout_rms = rms, heldout_r2 = r2 }));
        if (write)
        {
            var json = JsonNode.Parse(InputFile.ReadAllText(configPath), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                       as JsonObject ?? throw new InvalidDataException($"{configPath}: expected a JSON object");
            var target = json["ae"] as JsonObject ?? json;   // the official layout nests the keys under "ae"
            target["latent_rgb"] = new JsonArray(rows.Select(r => (JsonNode)new JsonArray(r.Select(v => (JsonNode)v).ToArray())).ToArray());
            // --write asks for this file to be updated in place.
            AtomicFile.Write(configPath, stream => stream.Write(Encoding.UTF8.GetBytes(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }))), overwrite: true);
            Console.Error.WriteLine($"latent_rgb written to {configPath}");
        }
        return 0;
    }

    /// <summary>RMS error and R² per colour of the projection against the 8×8 block means of a decode of fresh latents.</summary>
    static (double[] rms, double[] r2) HeldOut(VaeDecoder vae, float[] m, int seed)
    {
        var c = vae.Config;
        int e = c.EmbedDim, s = HeldOutSide, f = c.SpatialFactor, n = e + 1;
        var z = GaussianNoise.Generate((ulong)seed, (long)e * s * s);
        var sample = vae.Decode(z, [1, e, 1, s, s], VaeTiling.Off);
        var rms = new double[3];
        var r2 = new double[3];
        for (int ch = 0; ch < 3; ch++)
        {
            var truth = new double[s * s];
            double sse = 0;
            for (int y = 0; y < s; y++)
                for (int x = 0; x < s; x++)
                {
                    double mean = 0;
                    for (int dy = 0; dy < f; dy++) for (int dx = 0; dx < f; dx++) mean += sample[0, ch, 0, y * f + dy, x * f + dx];
                    mean /= f * f;
                    double predicted = m[ch * n + e];
                    for (int k = 0; k < e; k++) predicted += m[ch * n + k] * z[(k * s + y) * s + x];
                    truth[y * s + x] = mean;
                    sse += (predicted - mean) * (predicted - mean);
                }
            double avg = truth.Average(), sst = truth.Sum(t => (t - avg) * (t - avg));
            rms[ch] = Math.Sqrt(sse / truth.Length);
            r2[ch] = sst > 0 ? 1 - sse / sst : double.NaN;
        }
        return (rms, r2);
    }
}
