using System.Text.Json.Nodes;
using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Tests.Reference;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Presentation;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Pipelines;

/// <summary>A latent-space model folder (tiny PT-DiT with 4 channels + tiny VAE) through the text-to-image pipeline.</summary>
public sealed class LatentPipelineTests : GpuTest
{
    const int Size = 32;   // pixels: latents 4 x 4
    string _dir = "";
    Dictionary<string, HostTensor> _vaeWeights = [];

    [OneTimeSetUp]
    public void MakeModel()
    {
        _dir = TestModelFolder.Create(Path.Combine(Path.GetTempPath(), $"t2x-latent-{Environment.ProcessId}"));
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "model_index.json")))!;
        index["space"] = "latent";
        index["vae"] = "vae";
        index["input_size"] = new JsonArray(1, Size, Size);
        File.WriteAllText(Path.Combine(_dir, "model_index.json"), index.ToJsonString());
        string transformer = Path.Combine(_dir, "transformer");
        var old = PtDitConfig.Load(Path.Combine(transformer, "config.json"));
        var config = old with { InChannels = 4, OutChannels = 8 };
        File.WriteAllText(Path.Combine(transformer, "config.json"), config.ToJson());
        SafeTensors.Write(Path.Combine(transformer, "diffusion_pytorch_model.safetensors"), PtDitRandomCheckpoint.Create(config, 3).Select(kv => (kv.Key, kv.Value)), overwrite: true);
        _vaeWeights = VaeTestModel.RandomWeights(VaeTestModel.Tiny, new Random(9));
    }

    [OneTimeTearDown]
    public void RemoveModel() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    /// <summary>Runs a generation with the preview projection set to pass latent channels through; returns the previews
    /// (host copies) and the final image.</summary>
    (List<float[]> previews, float[] image, long[] shape) Generate(float[] latentRgb)
    {
        var c = VaeTestModel.Tiny with { LatentRgb = latentRgb };
        string vae = Path.Combine(_dir, "vae");
        if (Directory.Exists(vae)) Directory.Delete(vae, true);
        VaeTestModel.WriteFolder(c, _vaeWeights, vae);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(vae, "config.json")))!;
        json["latent_rgb"] = new JsonArray(Enumerable.Range(0, 3).Select(r => (JsonNode)new JsonArray(latentRgb.Skip(5 * r).Take(5).Select(v => (JsonNode)v).ToArray())).ToArray());
        File.WriteAllText(Path.Combine(vae, "config.json"), json.ToJsonString());
        using var pipeline = new TextToImage(Gpu, ModelFolder.Open(_dir));
        var previews = new List<float[]>();
        float[]? image = null;
        long[] shape = [];
        var settings = pipeline.Defaults with { Prompt = "a red circle", Seed = 3, Steps = 2 };
        pipeline.Generate(settings, f =>
        {
            if (f.IsFinal) { image = f.Image.ToArray(); shape = f.Image.Shape; }
            else
            {
                Assert.That(f.Image.Shape, Is.EqualTo(new long[] { 3, Size / 8, Size / 8 }), "previews are at latent resolution");
                previews.Add(f.Image.ToArray());
            }
        }, CancellationToken.None);
        return (previews, image!, shape);
    }

    [Test]
    public void FinalImageIsTheVaeDecodeOfTheSampledLatents()
    {
        static float[] Pass(params int[] channels)
        {
            var m = new float[15];
            for (int r = 0; r < 3; r++) m[5 * r + channels[r]] = 1;
            return m;
        }
        // After the last step the preview shows the final latents; two projections recover all 4 channels exactly.
        var a = Generate(Pass(0, 1, 2));
        var b = Generate(Pass(3, 3, 3));
        Assert.That(a.previews, Has.Count.EqualTo(2));
        Assert.That(a.image, Is.EqualTo(b.image), "generations are deterministic");
        Assert.That(a.shape, Is.EqualTo(new long[] { 3, Size, Size }));
        int plane = (Size / 8) * (Size / 8);
        var latents = new float[4 * plane];
        Array.Copy(a.previews[^1], 0, latents, 0, 3 * plane);
        Array.Copy(b.previews[^1], 0, latents, 3 * plane, plane);
        Assert.That(latents.Any(v => v != 0), Is.True);

        long[] zShape = [1, 4, 1, Size / 8, Size / 8];
        var reference = new VaeReference(VaeTestModel.Tiny, _vaeWeights);
        var z = VaeReference.FromFloats(latents, zShape);
        // 4 x 4 latents fit the tiny VAE's 4-latent tile: the official rule decodes plainly.
        Assert.That(VaePlan.UsesTiles(VaeTestModel.Tiny, zShape, VaeTiling.Auto), Is.False);
        var want = reference.Decode(z).D.Select(v => Math.Clamp(v, -1, 1)).ToArray();
        Assert.That(Check.MaxAbsError(a.image, want), Is.LessThan(1e-4));
        Assert.That(want.Any(v => v > -1 && v < 1), Is.True, "some values inside the clamp range");
    }

    [Test]
    public void FittedPreviewProjectionIsDeterministicAndFinite()
    {
        string vae = Path.Combine(_dir, "vae-fit");
        VaeTestModel.WriteFolder(VaeTestModel.Tiny, _vaeWeights, vae);
        using var decoder = VaeDecoder.Load(Gpu, vae);
        var m1 = LatentPreview.Fit(decoder);
        var m2 = LatentPreview.Fit(decoder);
        Assert.That(m1, Has.Length.EqualTo(15));
        Assert.That(m1, Is.EqualTo(m2));
        Assert.That(m1.All(float.IsFinite), Is.True);
        Assert.That(m1.Any(v => v != 0), Is.True);
    }
}
