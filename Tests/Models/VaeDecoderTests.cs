using NUnit.Framework;
using T2X.Tests.Reference;
using T2X.Vulkan;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Models;

/// <summary>The device decoder against the double-precision reference on tiny random decoders (official key layout).</summary>
public sealed class VaeDecoderTests : GpuTest
{
    static string? _dir;
    static VaeDecoder? _decoder;
    static VaeReference? _reference;
    static Dictionary<string, HostTensor>? _weights;

    [OneTimeSetUp]
    public void Load()
    {
        var c = VaeTestModel.Tiny;
        var w = _weights = VaeTestModel.RandomWeights(c, new Random(7));
        _dir = VaeTestModel.WriteFolder(c, w, Path.Combine(Path.GetTempPath(), $"t2x-vae-{Guid.NewGuid():N}"));
        _decoder = VaeDecoder.Load(Gpu, _dir);
        _reference = new VaeReference(c, w);
    }

    [OneTimeTearDown]
    public void Free()
    {
        _decoder?.Dispose();
        if (_dir is not null) Directory.Delete(_dir, true);
    }

    static void Compare(long[] shape, VaeTiling tiling, bool referenceTiled, int seed, VaeDecoder? decoder = null)
    {
        decoder ??= _decoder!;
        var latents = Check.Randn(new Random(seed), shape.Aggregate(1L, (a, b) => a * b), 0.5);
        var sample = decoder.Decode(latents, shape, tiling);
        var got = sample.Data;
        var z = VaeReference.FromFloats(latents, shape);
        var want = referenceTiled ? _reference!.DecodeTiled(z) : _reference!.Decode(z);
        Assert.That(sample.Shape, Is.EqualTo(new long[] { want.B, want.C, want.T, want.H, want.W }), "sample shape");
        Assert.That(sample.Shape, Is.EqualTo(decoder.SampleShape(shape)), "sample shape (plain formula)");
        double maxAbs = Check.MaxAbsError(got, want.D);
        Assert.That(maxAbs, Is.LessThan(1e-4), $"sample max abs error (range of want ±{want.D.Max(Math.Abs):F2})");
        // Pixels: the exact rounding of the reference; float error may flip a value sitting on a rounding edge.
        var px = VaePixels.ToUint8(sample);
        int differ = 0, n = 0;
        for (int b = 0; b < want.B; b++) for (int t = 0; t < want.T; t++) for (int y = 0; y < want.H; y++) for (int x = 0; x < want.W; x++) for (int ch = 0; ch < 3; ch++)
        {
            double v = Math.Clamp(want[b, ch, t, y, x], -1, 1);
            int exact = (int)Math.Floor((v + 1) / 2 * 255 + 0.5);
            int d = Math.Abs(px[n++] - exact);
            Assert.That(d, Is.LessThanOrEqualTo(1), "pixel off by more than 1");
            differ += d;
        }
        Assert.That(differ, Is.LessThanOrEqualTo(Math.Max(1, n / 1000)), "pixels off by one");
    }

    [Test] public void Image() => Compare([1, 4, 1, 4, 5], VaeTiling.Off, false, 1);
    [Test] public void NonSquareBatchOfTwo() => Compare([2, 4, 1, 3, 6], VaeTiling.Off, false, 2);
    [Test] public void ThreeFrameVideo() => Compare([1, 4, 3, 3, 4], VaeTiling.Off, false, 3);
    /// <summary>Rows 0, 3, 6 of 7 and columns 0, 3, 6, 9 of 10: short last tiles (1 latent) in both axes.</summary>
    [Test] public void TiledImageWithShortLastTiles() => Compare([1, 4, 1, 7, 10], VaeTiling.Auto, true, 4);
    /// <summary>5 latent frames in chunks of 3: [0,3), [2,5); 4 rows: tiles [0,4), [3,4).</summary>
    [Test] public void TiledVideoWithTimeChunks() => Compare([1, 4, 5, 4, 3], VaeTiling.Auto, true, 5);
    /// <summary>Forced tiling on a latent that fits one tile.</summary>
    [Test] public void TilingOnSmallLatent() => Compare([1, 4, 1, 3, 3], VaeTiling.On, true, 6);

    /// <summary>Every binding limited to 4 KiB (the tiny decoder's full-resolution activations are 10–40 KiB): group norm,
    /// upsample, softmax, GEMM and the implicit-GEMM convolutions all split their outputs, as at 1024² on lavapipe's
    /// 128 MiB, and the decode still matches the reference.</summary>
    [TestCase(1, 4, 5)]
    [TestCase(3, 3, 4)]
    public void DecodesWithOutputsSplitAcrossBindings(int frames, int h, int w)
    {
        // A device of its own, opened with the lower limit, and the decoder loaded on it.
        using var gpu = new Gpu(new GpuOptions { Validation = true, MaxStorageBindingBytes = 4096 });
        using (var decoder = VaeDecoder.Load(gpu, _dir!))
            Compare([1, 4, frames, h, w], VaeTiling.Off, false, 20 + frames, decoder);
        Assert.That(gpu.ValidationMessages, Is.Empty, "validation layer messages on the limited device");
    }

    /// <summary>The memory estimate behind the automatic tiling covers what a plain decode really holds, without
    /// overstating it by much.</summary>
    [TestCase(1, 1, 4, 5)]
    [TestCase(2, 1, 3, 6)]
    [TestCase(1, 3, 3, 4)]
    public void PlainDecodeBytesCoversThePeak(int b, int frames, int h, int w)
    {
        long[] shape = [b, 4, frames, h, w];
        var latents = Check.Randn(new Random(9), shape.Aggregate(1L, (x, y) => x * y), 0.5);
        Gpu.ResetPeak();
        long before = Gpu.AllocatedBytes;
        _decoder!.Decode(latents, shape, VaeTiling.Off);
        long measured = Gpu.PeakBytes - before, estimate = VaePlan.PlainDecodeBytes(_decoder.Config, shape);
        Assert.That(estimate, Is.GreaterThanOrEqualTo(measured), "estimate below the measured peak");
        Assert.That(estimate, Is.LessThanOrEqualTo(measured * 5 / 4), "estimate far above the measured peak");
    }

    /// <summary>Auto with too little memory for a plain decode: tiles of half the size, said in the log, and the result
    /// is exactly the tiled decode with those tiles. The decoder has tiles of 8 latents (64 px, overlap 0.25), so a
    /// 7x6 latent decodes plainly by the official rule; with one byte less than that needs, it falls back to tiles
    /// of 4 latents, which the reference computes with tile_sample_min_size 32.</summary>
    [Test]
    public void AutoFallsBackToTilesWhenMemoryIsShort()
    {
        var big = VaeTestModel.Tiny with { TileSampleMinSize = 64 };
        using var vae = VaeDecoder.Create(Gpu, big, new MemorySource(_weights!));
        long[] shape = [1, 4, 1, 7, 6];
        Assert.That(VaePlan.UsesTiles(big, shape, VaeTiling.Auto), Is.False, "the official rule decodes 7x6 plainly");
        vae.MemoryLimit = VaePlan.PlainDecodeBytes(big, shape) - 1;
        var messages = new List<string>();
        var latents = Check.Randn(new Random(12), 4 * 7 * 6, 0.5);
        var got = vae.Decode(latents, shape, VaeTiling.Auto, messages.Add);
        Assert.That(messages, Has.Count.EqualTo(1));
        Assert.That(messages[0], Does.Contain("plain decode needs about").And.Contain("decoding in tiles of 4 latents instead"));
        var small = VaeTestModel.Tiny with { TileSampleMinSize = 32 };
        var want = new VaeReference(small, _weights!).DecodeTiled(VaeReference.FromFloats(latents, shape));
        Assert.That(Check.MaxAbsError(got.Data, want.D), Is.LessThan(1e-4));
        // Forced modes obey whatever the memory.
        Assert.That(vae.Plan(shape, VaeTiling.Off).Tiled, Is.False);
        Assert.That(vae.Plan(shape, VaeTiling.On).Tiles.TileLatentMinSize, Is.EqualTo(8));
    }

    /// <summary>The decision at the released numbers, with memory given in small made-up amounts.</summary>
    [Test]
    public void PlanAtReleasedNumbers()
    {
        var c = VaeConfig.Released;
        long[] image512 = [1, 4, 1, 64, 64], image1024 = [1, 4, 1, 128, 128];
        long plain512 = VaePlan.PlainDecodeBytes(c, image512);
        Assert.That(VaePlan.PlainDecodeBytes(c, image1024), Is.GreaterThan(3 * plain512), "1024² needs more than 512²");
        // Enough memory: the official decision and its message.
        var p = VaePlan.Choose(c, image512, VaeTiling.Auto, plain512);
        Assert.That((p.Tiled, p.Fallback, p.Message), Is.EqualTo((false, false, "VAE: plain decode")));
        long tiled1024 = VaePlan.TiledDecodeBytes(c, image1024);   // official tiles of 64: 512² decodes, plus the tiles and the image
        Assert.That(tiled1024, Is.GreaterThan(plain512).And.LessThan(plain512 + 100_000_000));
        p = VaePlan.Choose(c, image1024, VaeTiling.Auto, tiled1024);
        Assert.That((p.Tiled, p.Fallback, p.Tiles.TileLatentMinSize), Is.EqualTo((true, false, 64)));
        // Short by one byte: 512² falls back to tiles of half the size, 32 latents every 28.
        p = VaePlan.Choose(c, image512, VaeTiling.Auto, plain512 - 1);
        Assert.That((p.Tiled, p.Fallback, p.Tiles.TileLatentMinSize, p.Tiles.TileLatentStride), Is.EqualTo((true, true, 32, 28)));
        Assert.That(p.Message, Does.Contain("a plain decode needs about"));
        p = VaePlan.Choose(c, image1024, VaeTiling.Auto, VaePlan.TiledDecodeBytes(c with { TileSampleMinSize = 128 }, image1024));
        Assert.That((p.Fallback, p.Tiles.TileLatentMinSize), Is.EqualTo((true, 16)));
        Assert.That(p.Message, Does.Contain("a decode in the official tiles needs about"));
        // Off and On ignore memory.
        Assert.That(VaePlan.Choose(c, image1024, VaeTiling.Off, 1000).Tiled, Is.False);
        Assert.That(VaePlan.Choose(c, image1024, VaeTiling.On, 1000).Fallback, Is.False);
        // Not even tiles of 8 latents fit: those are tried (the allocation then says what is short).
        p = VaePlan.Choose(c, image1024, VaeTiling.Auto, 1000);
        Assert.That((p.Fallback, p.Tiles.TileLatentMinSize), Is.EqualTo((true, 8)));
        Assert.That(p.Message, Does.Contain("even tiles of 8 latents need about").And.Contain("trying those"));
    }

    /// <summary>The memory a decode may use on this device: lavapipe's heap says 2 GiB, but its buffers are host memory,
    /// so the budget there is the host's available memory (more than the weights the tests hold).</summary>
    [Test]
    public void FreeMemoryIsTheHostsOnCpuDevices()
    {
        long free = VaePlan.FreeBytes(Gpu);
        Assert.That(free, Is.GreaterThan(_decoder!.WeightBytes));
        if (Gpu.Info.IsCpu) Assert.That(free, Is.Not.EqualTo((long)Gpu.Info.DeviceLocalBytes - Gpu.AllocatedBytes));
    }

    sealed class MemorySource(Dictionary<string, HostTensor> w) : ITensorSource
    {
        public IReadOnlyList<TensorInfo> Tensors { get; } = w.Select(kv => new TensorInfo(kv.Key, kv.Value.DType, kv.Value.Shape)).ToList();
        public HostTensor Read(string name) => w[name];
        public void Dispose() { }
    }

    [Test]
    public void AutoFollowsTheOfficialRule()
    {
        var c = VaeConfig.Released;
        Assert.That(VaePlan.UsesTiles(c, [1, 4, 1, 64, 64], VaeTiling.Auto), Is.False, "64x64x1 decodes plainly (the official code would crash)");
        Assert.That(VaePlan.UsesTiles(c, [1, 4, 8, 64, 64], VaeTiling.Auto), Is.False);
        Assert.That(VaePlan.UsesTiles(c, [1, 4, 1, 65, 8], VaeTiling.Auto), Is.True);
        Assert.That(VaePlan.UsesTiles(c, [1, 4, 1, 8, 65], VaeTiling.Auto), Is.True);
        Assert.That(VaePlan.UsesTiles(c, [1, 4, 9, 8, 8], VaeTiling.Auto), Is.True);
        Assert.That(VaePlan.UsesTiles(c with { UseTiling = false }, [1, 4, 9, 128, 128], VaeTiling.Auto), Is.False);
        Assert.That(VaePlan.UsesTiles(c, [1, 4, 1, 8, 8], VaeTiling.On), Is.True);
        Assert.That(VaePlan.UsesTiles(c, [1, 4, 9, 128, 128], VaeTiling.Off), Is.False);
    }

    [Test]
    public void ReleasedTileNumbers()
    {
        var c = VaeConfig.Released;
        Assert.That((c.TileLatentMinSize, c.TileLatentStride, c.TileBlendExtent, c.TileKeep), Is.EqualTo((64, 56, 64, 448)));
        Assert.That(VaeTiles.Starts(128, 56), Is.EqualTo(new[] { 0, 56, 112 }));
        Assert.That(VaeTiles.TimeChunks(10, 8), Is.EqualTo(new[] { (0, 8), (7, 10) }));
        Assert.That(VaeTiles.TimeChunks(9, 8), Is.EqualTo(new[] { (0, 8), (7, 9) }));
        Assert.That(VaeTiles.TimeChunks(15, 8), Is.EqualTo(new[] { (0, 8), (7, 15) }));
        Assert.That(VaeTiles.TimeChunks(8, 8), Is.EqualTo(new[] { (0, 8) }));
        Assert.That(c.OutputFrames(8), Is.EqualTo(29));
        Assert.That(c.Keys().Count(), Is.EqualTo(140));
        Assert.That(c.Keys().Sum(k => k.shape.Aggregate(1L, (a, b) => a * b)), Is.EqualTo(144_790_551L));
    }

    [Test]
    public void BadLatentsAreNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => _decoder!.Decode(new float[3 * 4], [1, 3, 1, 2, 2]));
        Assert.That(e!.Message, Does.Contain("latents must be [B, 4, T, h, w]"));
    }

    /// <summary>The released layout: vae/checkpoint.ckpt, a torch.save zip with the weights under "state_dict" next to
    /// encoder and loss tensors the decoder ignores.</summary>
    [Test]
    public void LoadsTheReleasedCheckpointFormat()
    {
        var c = VaeTestModel.Tiny;
        var w = VaeTestModel.RandomWeights(c, new Random(7));
        string dir = Path.Combine(Path.GetTempPath(), $"t2x-vae-ckpt-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), VaeTestModel.ConfigJson(c));
            var tensors = w.Select(kv => (kv.Key, kv.Value))
                .Append(("encoder.conv_in.conv.weight", HostTensor.FromFloat32(new float[8 * 3 * 27], 8, 3, 3, 3, 3)))
                .Append(("quant_conv.conv.bias", HostTensor.FromFloat32(new float[8], 8)))
                .Append(("loss.logvar", HostTensor.FromFloat32([0f], 1)));
            TorchCheckpoint.Write(Path.Combine(dir, "checkpoint.ckpt"), tensors, wrapper: "state_dict");
            using var vae = VaeDecoder.Load(Gpu, dir);
            long[] shape = [1, 4, 1, 3, 2];
            var latents = Check.Randn(new Random(8), 24, 0.5);
            var got = vae.Decode(latents, shape, VaeTiling.Off);
            var want = _reference!.Decode(VaeReference.FromFloats(latents, shape));
            Assert.That(Check.MaxAbsError(got.Data, want.D), Is.LessThan(1e-4));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Test]
    public void MissingKeysAreNamed()
    {
        var c = VaeTestModel.Tiny;
        var w = VaeTestModel.RandomWeights(c, new Random(1));
        w.Remove("decoder.mid.attn_1.k.conv.weight");
        string dir = VaeTestModel.WriteFolder(c, w, Path.Combine(Path.GetTempPath(), $"t2x-vae-{Guid.NewGuid():N}"));
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => VaeDecoder.Load(Gpu, dir).Dispose());
            Assert.That(e!.Message, Does.Contain("decoder.mid.attn_1.k.conv.weight"));
        }
        finally { Directory.Delete(dir, true); }
    }
}

/// <summary>The released decoder's shapes with random weights (explicit: 580 MB of weights, minutes on lavapipe).</summary>
[Explicit]
public sealed class VaeReleasedShapeRun : GpuTest
{
    sealed class MemorySource(Dictionary<string, HostTensor> w) : ITensorSource
    {
        public IReadOnlyList<TensorInfo> Tensors { get; } = w.Select(kv => new TensorInfo(kv.Key, kv.Value.DType, kv.Value.Shape)).ToList();
        public HostTensor Read(string name) => w[name];
        public void Dispose() { }
    }

    [TestCase(4, VaeTiling.Auto)]
    [TestCase(32, VaeTiling.Auto)]
    [TestCase(128, VaeTiling.Off)]   // 1024² in one piece: activations up to 1 GiB, attention scores 1 GiB (bindings split)
    [TestCase(128, VaeTiling.Auto)]  // 1024² in the official 9 tiles
    public void DecodesAnImage(int side, VaeTiling tiling)
    {
        var c = VaeConfig.Released;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var weights = VaeTestModel.RandomWeights(c, new Random(1));
        TestContext.Progress.WriteLine($"random weights {clock.Elapsed.TotalSeconds:F1} s");
        using var vae = VaeDecoder.Create(Gpu, c, new MemorySource(weights));
        TestContext.Progress.WriteLine($"load {clock.Elapsed.TotalSeconds:F1} s, weights {vae.WeightBytes / 1e6:F0} MB");
        clock.Restart();
        Gpu.ResetPeak();
        long[] shape = [1, 4, 1, side, side];
        var sample = vae.Decode(Check.Randn(new Random(2), 4 * side * side), shape, tiling, TestContext.Progress.WriteLine);
        TestContext.Progress.WriteLine($"decode {side}x{side} latents: {clock.Elapsed.TotalSeconds:F1} s, peak device memory {Gpu.PeakBytes / 1e6:F0} MB");
        Assert.That(sample.Shape, Is.EqualTo(new long[] { 1, 3, 1, 8 * side, 8 * side }));
        Assert.That(sample.Data.All(float.IsFinite), Is.True);
    }
}
