using System.Runtime.InteropServices;
using System.Text.Json;
using NUnit.Framework;

namespace T2X.Tests.Models;

/// <summary>
/// Writes every PtDitCase (config, weights, inputs, reference output) as raw f32 files for a cross-check against the
/// official PyTorch code outside this repository. Explicit: run with T2X_OFFICIAL_DIR set.
/// </summary>
[Explicit("writes files for the cross-check against the official code")]
public class PtDitOfficialDump
{
    [Test]
    public void Dump()
    {
        string root = Environment.GetEnvironmentVariable("T2X_OFFICIAL_DIR") ?? Path.Combine(Path.GetTempPath(), "ptdit_cases");
        foreach (var c in PtDitCase.All)
        {
            string dir = Path.Combine(root, c.Name);
            Directory.CreateDirectory(dir);
            var w = c.Weights();
            var x = c.Inputs(1);
            var reference = c.Reference(w, x);
            void Write(string name, float[] values) => File.WriteAllBytes(Path.Combine(dir, name + ".bin"), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
            foreach (var (k, t) in w) Write("w_" + k, t.ToFloat32());
            Write("in_latents", x.latents);
            Write("in_timestep", x.timestep);
            Write("in_encoder_hidden_states", x.text);
            Write("in_encoder_attention_mask", x.mask);
            Write("reference", Array.ConvertAll(reference, v => (float)v));
            var manifest = new
            {
                weights = w.ToDictionary(kv => kv.Key, kv => kv.Value.Shape),
                inputs = new Dictionary<string, long[]>
                {
                    ["latents"] = [c.B, c.Config.InChannels, c.F, c.H, c.W], ["timestep"] = [c.B],
                    ["encoder_hidden_states"] = [c.B, c.L, c.Config.CaptionChannels], ["encoder_attention_mask"] = [c.B, c.L],
                },
                reference = new long[] { c.B, c.Config.OutChannels, c.F, c.H, c.W },
            };
            File.WriteAllText(Path.Combine(dir, "manifest.json"), JsonSerializer.Serialize(manifest));
            File.WriteAllText(Path.Combine(dir, "config.json"), c.Config.ToJson());
        }
    }
}
