using NUnit.Framework;
using T2X.Tests.Reference;
using T2X.Vulkan;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Weights;
using static T2X.Tests.Models.T5TestModel;

namespace T2X.Tests.Models;

/// <summary>The device T5 encoder against the double-precision reference on tiny random models in the HF layout.</summary>
public sealed class T5EncoderTests : GpuTest
{
    string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Path.Combine(Path.GetTempPath(), "t2x-t5-" + Guid.NewGuid().ToString("N"));

    [TearDown]
    public void RemoveDir() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    /// <summary>Loads the folder, encodes, compares with the reference: relative norm error and max abs error.</summary>
    void CheckAgainstReference(T5Config c, Dictionary<string, HostTensor> weights, int length, int[] validLengths, int seed, int shards = 1, bool pytorch = false)
    {
        WriteFolder(_dir, c, weights, shards, pytorch);
        var (ids, mask) = Batch(new Random(seed), c.VocabSize, length, validLengths);
        using var encoder = T5Encoder.Load(Gpu, _dir);
        float[] got;
        using (var y = encoder.Encode(ids, mask, validLengths.Length, length))
        {
            Assert.That(y.Shape, Is.EqualTo(new long[] { validLengths.Length, length, c.DModel }));
            got = y.ToArray();
        }
        var want = T5Reference.Forward(c, weights, ids, mask, validLengths.Length, length);
        Check.Close(got, want, 1e-5, "last_hidden_state");
        Assert.That(Check.MaxAbsError(got, want), Is.LessThan(1e-4), "max abs error");
    }

    // Lengths beyond 128 (the bucket max distance) and 91 (the last bucket); padded rows; the empty prompt (EOS only).
    [TestCase(DType.F32, 140, new[] { 140, 57, 1 })]
    [TestCase(DType.F16, 97, new[] { 3, 97 })]
    [TestCase(DType.BF16, 33, new[] { 20 })]
    public void MatchesReference(DType dtype, int length, int[] valid)
    {
        var c = Tiny();
        CheckAgainstReference(c, RandomWeights(c, dtype, new Random(length)), length, valid, seed: length);
    }

    /// <summary>What lets the pipeline cut the padding after the longest text (docs/t5.md, quirk T6): encoding only
    /// the positions up to the last real token of any row gives those positions bit for bit as a full encode.</summary>
    [Test]
    public void TrailingPaddingDoesNotChangeTheEncodedPositions()
    {
        var c = Tiny(layers: 2);
        WriteFolder(_dir, c, RandomWeights(c, DType.F16, new Random(41)));
        const int length = 40, used = 13;
        int[] valid = [used, 5, 1];
        var (ids, mask) = Batch(new Random(41), c.VocabSize, length, valid);
        var cut = new T2X.Vulkan.Text.TokenBatch(ids, mask, valid.Length, length).Prefix(used);
        using var encoder = T5Encoder.Load(Gpu, _dir);
        float[] full, part;
        using (var y = encoder.Encode(ids, mask, valid.Length, length)) full = y.ToArray();
        using (var y = encoder.Encode(cut.InputIds, cut.AttentionMask, valid.Length, used)) part = y.ToArray();
        for (int b = 0; b < valid.Length; b++)
            Assert.That(part.AsSpan(b * used * c.DModel, used * c.DModel).ToArray(),
                Is.EqualTo(full.AsSpan(b * length * c.DModel, used * c.DModel).ToArray()), $"row {b}");
    }

    [Test]
    public void ReadsAShardedFp16FolderWithTheEmbeddingOnlyAsShared()
    {
        var c = Tiny(layers: 3);
        CheckAgainstReference(c, RandomWeights(c, DType.F16, new Random(5), EmbeddingAs.Shared), 45, [45, 12], seed: 5, shards: 2);
        Assert.That(File.Exists(Path.Combine(_dir, "model.fp16-00002-of-00002.safetensors")), Is.True);
    }

    [Test]
    public void ReadsAPytorchModelBin()
    {
        var c = Tiny(layers: 1);
        CheckAgainstReference(c, RandomWeights(c, DType.BF16, new Random(12)), 20, [20, 3], seed: 12, pytorch: true);
    }

    [TestCase(EmbeddingAs.EmbedTokens)]
    [TestCase(EmbeddingAs.Both)]
    public void AcceptsEitherEmbeddingKey(EmbeddingAs embedding)
    {
        var c = Tiny(layers: 1);
        CheckAgainstReference(c, RandomWeights(c, DType.F32, new Random(6), embedding), 16, [9], seed: 6);
    }

    [Test]
    public void GatedSiluAndUngatedGelu()
    {
        var silu = Tiny(act: "silu", layers: 1);
        CheckAgainstReference(silu, RandomWeights(silu, DType.F32, new Random(7)), 24, [24, 5], seed: 7);
        Directory.Delete(_dir, true);
        var plain = Tiny(gated: false, layers: 1);
        CheckAgainstReference(plain, RandomWeights(plain, DType.F32, new Random(8)), 24, [10], seed: 8);
    }

    [Test]
    public void IgnoresDecoderWeights()
    {
        var c = Tiny(layers: 1);
        var w = RandomWeights(c, DType.F32, new Random(9));
        w["decoder.block.0.layer.0.SelfAttention.q.weight"] = HostTensor.FromFloat32(new float[4], 2, 2);
        w["lm_head.weight"] = HostTensor.FromFloat32(new float[4], 2, 2);
        CheckAgainstReference(c, w, 12, [7], seed: 9);
    }

    [Test]
    public void ReleaseFreesTheWeights()
    {
        var c = Tiny(layers: 1);
        WriteFolder(_dir, c, RandomWeights(c, DType.F16, new Random(10)));
        using var encoder = T5Encoder.Load(Gpu, _dir);
        Assert.That(encoder.WeightBytes, Is.GreaterThan(0));
        encoder.Release();
        Assert.That(encoder.WeightBytes, Is.EqualTo(0));
        Assert.Throws<InvalidOperationException>(() => encoder.Encode([1], [1], 1, 1));
    }

    [Test]
    public void RejectsBadInputsAndCheckpoints()
    {
        var c = Tiny(layers: 1);
        var w = RandomWeights(c, DType.F32, new Random(11));
        WriteFolder(_dir, c, w);
        using (var encoder = T5Encoder.Load(Gpu, _dir))
        {
            var e = Assert.Throws<ArgumentException>(() => encoder.Encode([1, 37], [1, 1], 1, 2))!;
            Assert.That(e.Message, Does.Contain("input_ids[0, 1] = 37"));
            Assert.Throws<ArgumentException>(() => encoder.Encode([1, 2], [1, 2], 1, 2));
            Assert.Throws<ArgumentException>(() => encoder.Encode([1, 2, 3], [1, 1, 1], 1, 2));
        }
        Directory.Delete(_dir, true);
        w.Remove("encoder.block.0.layer.1.DenseReluDense.wi_1.weight");
        WriteFolder(_dir, c, w);
        var missing = Assert.Throws<InvalidDataException>(() => T5Encoder.Load(Gpu, _dir))!;
        Assert.That(missing.Message, Does.Contain("wi_1"));
        Directory.Delete(_dir, true);
        w = RandomWeights(c, DType.F32, new Random(11));
        w.Remove("shared.weight");
        WriteFolder(_dir, c, w);
        Assert.That(Assert.Throws<InvalidDataException>(() => T5Encoder.Load(Gpu, _dir))!.Message, Does.Contain("shared.weight"));
    }
}
