using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Vulkan;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Host;

/// <summary>t2x forward and t2x sample, run as the real binary on tiny random checkpoints, against the CPU reference.</summary>
public class TensorCommandTests
{
    string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("t2x-host-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    string Transformer(PtDitCase c, Dictionary<string, HostTensor> weights, string format)
    {
        string dir = Path.Combine(_dir, "transformer-" + format);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"predictor\": " + c.Config.ToJson() + "}");
        var list = weights.Select(kv => (kv.Key, kv.Value));
        if (format == "safetensors") SafeTensors.Write(Path.Combine(dir, "model.safetensors"), list);
        else TorchCheckpoint.Write(Path.Combine(dir, "model.pt"), list, wrapper: "state_dict");
        return dir;
    }

    static HostTensor T(float[] v, params long[] shape) => HostTensor.FromFloat32(v, shape);

    [TestCase("safetensors", DType.F32, "proxy")]
    [TestCase("pt", DType.BF16, "proxy")]
    [TestCase("safetensors", DType.F16, "global")]
    public void ForwardWritesTheReferenceSample(string format, DType dtype, string attention)
    {
        var c = PtDitCase.All[1];
        var weights = c.Weights().ToDictionary(kv => kv.Key, kv => kv.Value.To(dtype));
        var x = c.Inputs(7);
        string inputs = Path.Combine(_dir, "in.safetensors"), output = Path.Combine(_dir, "out.safetensors");
        SafeTensors.Write(inputs, [
            ("latents", T(x.latents, c.B, c.Config.InChannels, c.F, c.H, c.W)), ("timestep", T(x.timestep, c.B)),
            ("encoder_hidden_states", T(x.text, c.B, c.L, c.Config.CaptionChannels)), ("encoder_attention_mask", T(x.mask, c.B, c.L))]);
        var (code, stdout, stderr) = T2xProcess.Run("forward", "--transformer", Transformer(c, weights, format), "--inputs", inputs, "--output", output, "--attention", attention);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("sample"));
        using var result = Checkpoint.Open(output);
        var sample = result.Read("sample");
        Assert.That(sample.Shape, Is.EqualTo(new long[] { c.B, c.Config.OutChannels, c.F, c.H, c.W }));
        Assert.That(sample.DType, Is.EqualTo(DType.F32));
        var mode = attention == "global" ? AttentionMode.Global : AttentionMode.Proxy;
        Assert.That(Check.MaxAbsError(sample.ToFloat32(), c.Reference(weights, x, mode)), Is.LessThan(1e-4));
    }

    [Test]
    public void SampleWithGivenNoiseMatchesTheReferenceLoopAndSeededNoiseIsRepeatable()
    {
        var c = PtDitCase.All[0];
        var weights = c.Weights();
        string dir = Transformer(c, weights, "safetensors");
        var rng = new Random(3);
        int L = c.L;
        var cond = Check.Randn(rng, L * c.Config.CaptionChannels);
        var uncond = Check.Randn(rng, L * c.Config.CaptionChannels);
        float[] mask = [.. Enumerable.Range(0, L).Select(j => j < 3 ? 1f : 0f)];
        var noise = GaussianNoise.Generate(4, (long)c.Config.InChannels * c.F * c.H * c.W);
        string inputs = Path.Combine(_dir, "in.safetensors"), output = Path.Combine(_dir, "out.safetensors");
        SafeTensors.Write(inputs, [
            ("noise", T(noise, 1, c.Config.InChannels, c.F, c.H, c.W)), ("cond_embeds", T(cond, 1, L, c.Config.CaptionChannels)),
            ("cond_mask", T(mask, 1, L)), ("uncond_embeds", T(uncond, 1, L, c.Config.CaptionChannels)), ("uncond_mask", T(mask, 1, L))]);
        string px = (c.H * 8).ToString();
        var (code, _, stderr) = T2xProcess.Run("sample", "--transformer", dir, "--inputs", inputs, "--output", output, "--steps", "2", "--cfg", "3.5", "--height", px, "--width", px);
        Assert.That(code, Is.EqualTo(0), stderr);

        var schedule = new RectifiedFlowSchedule(new SamplerOptions { Steps = 2 }, c.H * 8, c.W * 8);
        var reference = new Reference.PtDitReference(c.Config, weights);
        var z = (float[])noise.Clone();
        double[] text = [.. cond.Concat(uncond).Select(v => (double)v)], masks = [.. mask.Concat(mask).Select(v => (double)v)];
        for (int i = 0; i < 2; i++)
        {
            var pred = reference.Forward([.. z.Concat(z).Select(v => (double)v)], 2, c.F, c.H, c.W, [schedule.ModelTimes[i], schedule.ModelTimes[i]], text, L, masks);
            RectifiedFlow.EulerCfgStep(z, Array.ConvertAll(pred, v => (float)v), 1, c.Config.InChannels, c.Config.OutChannels, 3.5f, schedule.Dt[i]);
        }
        using (var result = Checkpoint.Open(output))
            Assert.That(Check.MaxAbsError(result.Read("latents").ToFloat32(), Array.ConvertAll(z, v => (double)v)), Is.LessThan(1e-4));

        // Without noise in the inputs, --seed picks the noise: the same seed gives the same bytes.
        SafeTensors.Write(inputs, [("cond_embeds", T(cond, 1, L, c.Config.CaptionChannels)), ("uncond_embeds", T(uncond, 1, L, c.Config.CaptionChannels))], overwrite: true);
        string o1 = Path.Combine(_dir, "s1.safetensors"), o2 = Path.Combine(_dir, "s2.safetensors");
        foreach (var o in new[] { o1, o2 })
        {
            var r = T2xProcess.Run("sample", "--transformer", dir, "--inputs", inputs, "--output", o, "--steps", "1", "--cfg", "4", "--height", px, "--width", px, "--seed", "11");
            Assert.That(r.code, Is.EqualTo(0), r.stderr);
        }
        Assert.That(File.ReadAllBytes(o2), Is.EqualTo(File.ReadAllBytes(o1)));
    }

    [Test]
    public void BadInputsGiveClearErrorsAndNoOutput()
    {
        var c = PtDitCase.All[1];
        string dir = Transformer(c, c.Weights(), "safetensors");
        string inputs = Path.Combine(_dir, "in.safetensors"), output = Path.Combine(_dir, "out.safetensors");

        var r = T2xProcess.Run("forward", "--inputs", inputs, "--output", output);
        Assert.That((r.code, r.stderr), Is.EqualTo((2, "t2x forward: --transformer is required\n")));

        // A latent width that is not a multiple of patch × window: the message names the allowed sizes.
        var x = c.Inputs(1);
        SafeTensors.Write(inputs, [
            ("latents", T(new float[c.Config.InChannels * 8 * 20], 1, c.Config.InChannels, 1, 8, 20)), ("timestep", T([500f], 1)),
            ("encoder_hidden_states", T(x.text, c.B, c.L, c.Config.CaptionChannels))], overwrite: true);
        r = T2xProcess.Run("forward", "--transformer", dir, "--inputs", inputs, "--output", output);
        Assert.That(r.code, Is.EqualTo(3));
        Assert.That(r.stderr, Does.Contain("width 20").And.Contain("16 or 24"));

        // A missing input tensor is named.
        SafeTensors.Write(inputs, [("latents", T(x.latents, c.B, c.Config.InChannels, c.F, c.H, c.W))], overwrite: true);
        r = T2xProcess.Run("forward", "--transformer", dir, "--inputs", inputs, "--output", output);
        Assert.That(r.code, Is.EqualTo(3));
        Assert.That(r.stderr, Does.Contain("timestep"));

        r = T2xProcess.Run("sample", "--transformer", dir, "--inputs", inputs, "--output", output, "--height", "100", "--width", "64");
        Assert.That(r.code, Is.EqualTo(3));
        Assert.That(r.stderr, Does.Contain("cond_embeds"));
        Assert.That(File.Exists(output), Is.False);
    }
}
