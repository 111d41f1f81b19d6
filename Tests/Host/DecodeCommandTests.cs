using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Tests.Reference;
using T2X.Vulkan;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Host;

/// <summary>t2x decode through the real binary on a tiny random decoder, checked against the double reference.</summary>
public sealed class DecodeCommandTests
{
    string _dir = "";

    [SetUp]
    public void MakeDir() { _dir = Path.Combine(Path.GetTempPath(), "t2x-decode-" + Guid.NewGuid().ToString("N")); Directory.CreateDirectory(_dir); }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, true);

    string P(string name) => Path.Combine(_dir, name);

    [TestCase("off", new long[] { 1, 4, 2, 3, 2 }, false)]
    [TestCase("auto", new long[] { 1, 4, 1, 5, 4 }, true)]
    public void DecodesLatentsToSampleAndPixels(string tiling, long[] shape, bool tiled)
    {
        var c = VaeTestModel.Tiny;
        var w = VaeTestModel.RandomWeights(c, new Random(11));
        string vae = VaeTestModel.WriteFolder(c, w, P("vae"));
        var latents = Check.Randn(new Random(12), shape.Aggregate(1L, (a, b) => a * b), 0.5);
        SafeTensors.Write(P("in.safetensors"), [("latents", HostTensor.FromFloat32(latents, shape))]);

        var (code, _, stderr) = T2xProcess.Run("decode", "--vae", vae, "--inputs", P("in.safetensors"), "--output", P("out.safetensors"), "--tiling", tiling);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain(tiled ? "tiled decode" : "plain decode"));

        var reference = new VaeReference(c, w);
        var z = VaeReference.FromFloats(latents, shape);
        var want = tiled ? reference.DecodeTiled(z) : reference.Decode(z);
        using var f = SafeTensors.Open(P("out.safetensors"));
        var sampleInfo = f.Tensors.Single(t => t.Name == "sample");
        Assert.That((sampleInfo.DType, sampleInfo.Shape), Is.EqualTo((DType.F32, new long[] { want.B, 3, want.T, want.H, want.W })));
        Assert.That(Check.MaxAbsError(f.Read("sample").ToFloat32(), want.D), Is.LessThan(1e-4), "sample");
        var pixelInfo = f.Tensors.Single(t => t.Name == "pixels");
        Assert.That((pixelInfo.DType, pixelInfo.Shape), Is.EqualTo((DType.U8, new long[] { want.B, want.T, want.H, want.W, 3 })));
        var px = f.Read("pixels").Bytes;
        int off = 0, n = 0;
        for (int b = 0; b < want.B; b++) for (int t = 0; t < want.T; t++) for (int y = 0; y < want.H; y++) for (int x = 0; x < want.W; x++) for (int ch = 0; ch < 3; ch++)
        {
            int exact = (int)Math.Floor((Math.Clamp(want[b, ch, t, y, x], -1, 1) + 1) / 2 * 255 + 0.5);
            int d = Math.Abs(px[n++] - exact);
            Assert.That(d, Is.LessThanOrEqualTo(1), "pixel");
            off += d;
        }
        Assert.That(off, Is.LessThanOrEqualTo(Math.Max(1, n / 1000)), "pixels off by one");
    }

    [Test]
    public void AMemoryBudgetTooSmallForThePlainDecodeSendsItToTiles()
    {
        var c = VaeTestModel.Tiny;
        var w = VaeTestModel.RandomWeights(c, new Random(5));
        string vae = VaeTestModel.WriteFolder(c, w, P("vae"));
        long[] shape = [1, 4, 2, 3, 2];
        var latents = Check.Randn(new Random(6), shape.Aggregate(1L, (a, b) => a * b), 0.5);
        SafeTensors.Write(P("in.safetensors"), [("latents", HostTensor.FromFloat32(latents, shape))]);

        // The official rule decodes this shape plainly; a budget below the weights leaves no room for it.
        var (code, _, stderr) = T2xProcess.Run("decode", "--vae", vae, "--inputs", P("in.safetensors"), "--output", P("out.safetensors"), "--memory-budget", "0.000001");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain("a plain decode needs about").And.Contain("of device memory and 0 MB is free"));
        (code, _, stderr) = T2xProcess.Run("decode", "--vae", vae, "--inputs", P("in.safetensors"), "--output", P("big.safetensors"), "--memory-budget", "64");
        Assert.That((code, stderr.Contains("VAE: plain decode")), Is.EqualTo((0, true)), stderr);
        (code, _, stderr) = T2xProcess.Run("decode", "--vae", vae, "--inputs", P("in.safetensors"), "--output", P("o.safetensors"), "--memory-budget", "-1");
        Assert.That((code, stderr.Contains("--memory-budget expects a positive number of GiB")), Is.EqualTo((2, true)), stderr);
    }

    [Test]
    public void BadUsageAndBadInputsAreNamed()
    {
        var c = VaeTestModel.Tiny;
        string vae = VaeTestModel.WriteFolder(c, VaeTestModel.RandomWeights(c, new Random(1)), P("vae"));
        SafeTensors.Write(P("in.safetensors"), [("z", HostTensor.FromFloat32(new float[16], 1, 4, 1, 2, 2))]);
        var (code, _, stderr) = T2xProcess.Run("decode", "--vae", vae, "--inputs", P("in.safetensors"), "--output", P("o.safetensors"), "--tiling", "maybe");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("--tiling must be auto, on or off"));
        (code, _, stderr) = T2xProcess.Run("decode", "--vae", vae, "--inputs", P("in.safetensors"), "--output", P("o.safetensors"));
        Assert.That(code, Is.EqualTo(3));
        Assert.That(stderr, Does.Contain("no tensor 'latents'"));
        SafeTensors.Write(P("in3.safetensors"), [("latents", HostTensor.FromFloat32(new float[12], 1, 3, 1, 2, 2))]);
        (code, _, stderr) = T2xProcess.Run("decode", "--vae", vae, "--inputs", P("in3.safetensors"), "--output", P("o.safetensors"));
        Assert.That(code, Is.EqualTo(3));
        Assert.That(stderr, Does.Contain("latents must be [B, 4, T, h, w]"));
        Assert.That(File.Exists(P("o.safetensors")), Is.False, "no output written on failure");
    }
}
