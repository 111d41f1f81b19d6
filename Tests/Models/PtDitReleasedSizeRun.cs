using System.Diagnostics;
using NUnit.Framework;
using T2X.Tests.Host;
using T2X.Vulkan;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Models;

/// <summary>
/// The released model's 1416 keys and shapes with random bf16 values, written as safetensors and as a torch.save zip,
/// each run through `t2x forward` at 256×256 px (32×32 latent, 2×2 windows of 8×8 tokens), batch 2, 200 text tokens.
/// Explicit: it writes 2 × 2.3 GB (to T2X_RELEASED_DIR or the temp folder) and takes minutes on lavapipe.
/// </summary>
[Explicit("writes two 2.3 GB checkpoints and runs the released-size model")]
public class PtDitReleasedSizeRun
{
    [Test]
    public void LoadsAndRunsBothFormats()
    {
        string root = Environment.GetEnvironmentVariable("T2X_RELEASED_DIR") ?? Path.Combine(Path.GetTempPath(), "t2x-released");
        var config = PtDitConfig.Released;
        var clock = Stopwatch.StartNew();
        var weights = PtDitRandomCheckpoint.Create(config, 1, DType.BF16, PositionBuffer.Random);
        Assert.That(weights, Has.Count.EqualTo(1416));
        TestContext.Out.WriteLine($"random bf16 checkpoint: {weights.Values.Sum(t => t.Elements):N0} values in {clock.Elapsed.TotalSeconds:F0} s");

        const int B = 2, L = 200;
        var inputs = Path.Combine(root, "inputs.safetensors");
        Directory.CreateDirectory(root);
        var mask = new float[B * L];
        for (int i = 0; i < mask.Length; i++) mask[i] = i % L < 20 ? 1 : 0;
        SafeTensors.Write(inputs, [
            ("latents", HostTensor.FromFloat32(GaussianNoise.Generate(1, B * 4 * 32 * 32), B, 4, 1, 32, 32)),
            ("timestep", HostTensor.FromFloat32([1000f, 1000f], B)),
            ("encoder_hidden_states", HostTensor.FromFloat32(GaussianNoise.Generate(2, B * L * 4096), B, L, 4096)),
            ("encoder_attention_mask", HostTensor.FromFloat32(mask, B, L))]);
        var outputs = new List<float[]>();
        foreach (var format in new[] { "safetensors", "pt" })
        {
            string dir = Path.Combine(root, format);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJson());
            clock.Restart();
            if (format == "safetensors") SafeTensors.Write(Path.Combine(dir, "model.safetensors"), weights.Select(kv => (kv.Key, kv.Value)));
            else TorchCheckpoint.Write(Path.Combine(dir, "model.pt"), weights.Select(kv => (kv.Key, kv.Value)));
            TestContext.Out.WriteLine($"{format}: written in {clock.Elapsed.TotalSeconds:F0} s");
            string output = Path.Combine(root, $"out-{format}.safetensors");
            clock.Restart();
            var (code, stdout, stderr) = T2xProcess.Run("forward", "--transformer", dir, "--inputs", inputs, "--output", output);
            TestContext.Out.WriteLine($"{format}: t2x forward exit {code} in {clock.Elapsed.TotalSeconds:F0} s: {stdout.Trim()} {stderr.Trim()}");
            Assert.That(code, Is.EqualTo(0), stderr);
            using var result = Checkpoint.Open(output);
            var sample = result.Read("sample").ToFloat32();
            Assert.That(sample.All(float.IsFinite), Is.True);
            outputs.Add(sample);
        }
        Assert.That(outputs[1], Is.EqualTo(outputs[0]), "both formats give the same bits");
    }
}
