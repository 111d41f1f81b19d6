using NUnit.Framework;
using T2X.Tests.Reference;
using T2X.Vulkan.Models.T5;

namespace T2X.Tests.Models;

public sealed class T5ConfigTests
{
    [Test]
    public void BucketsMatchTheSpecTable()
    {
        int[] r = [-1, 1, -16, 16, -91, 91, -199, 199];
        int[] want = [1, 17, 10, 26, 15, 31, 15, 31];
        Assert.That(r.Select(x => T5Config.RelativePositionBucket(x, 32, 128)), Is.EqualTo(want));
        var c = new T5Config { RelativeAttentionNumBuckets = 32, RelativeAttentionMaxDistance = 128 };
        for (int d = -400; d <= 400; d++)
            Assert.That(T5Config.RelativePositionBucket(d, 32, 128), Is.EqualTo(T5Reference.Bucket(d, c)), $"r = {d}");
        Assert.That(T5Config.RelativePositionBucket(0, 32, 128), Is.EqualTo(0));
    }

    [Test]
    public void BucketsOfOtherSettingsFollowTheFormula()
    {
        // Away from exact boundaries the float formula is safe: compare where its fractional part is not tiny.
        foreach (var (nb, md) in new[] { (8, 20), (16, 64), (64, 256), (32, 64) })
            for (int r = -300; r <= 300; r++)
            {
                int half = nb / 2, exact = half / 2, n = Math.Abs(r);
                if (n < exact) { Assert.That(T5Config.RelativePositionBucket(r, nb, md), Is.EqualTo((r > 0 ? half : 0) + n)); continue; }
                double v = Math.Log(n / (double)exact) / Math.Log(md / (double)exact) * (half - exact);
                if (Math.Abs(v - Math.Round(v)) < 1e-9) continue;
                int want = (r > 0 ? half : 0) + Math.Min(half - 1, exact + (int)v);
                Assert.That(T5Config.RelativePositionBucket(r, nb, md), Is.EqualTo(want), $"buckets {nb}, distance {md}, r = {r}");
            }
    }

    [Test]
    public void ParsesTheReleasedConfig()
    {
        var c = T5Config.Parse("""
            {"architectures": ["T5EncoderModel"], "d_ff": 10240, "d_kv": 64, "d_model": 4096, "decoder_start_token_id": 0,
             "dense_act_fn": "gelu_new", "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "gated-gelu",
             "initializer_factor": 1.0, "is_encoder_decoder": true, "is_gated_act": true, "layer_norm_epsilon": 1e-06,
             "model_type": "t5", "num_decoder_layers": 24, "num_heads": 64, "num_layers": 24, "output_past": true,
             "pad_token_id": 0, "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
             "tie_word_embeddings": false, "torch_dtype": "float16", "use_cache": true, "vocab_size": 32128}
            """);
        Assert.That((c.DModel, c.NumHeads, c.DKv, c.DFf, c.NumLayers, c.VocabSize), Is.EqualTo((4096, 64, 64, 10240, 24, 32128)));
        Assert.That((c.DenseActFn, c.IsGatedAct, c.LayerNormEpsilon), Is.EqualTo(("gelu_new", true, 1e-6)));
        Assert.That(c.LayerKeys().Count() + 2, Is.EqualTo(220), "220 state_dict entries with shared and embed_tokens");
        long parameters = c.LayerKeys().Sum(k => k.shape.Aggregate(1L, (a, b) => a * b)) + (long)c.VocabSize * c.DModel;
        Assert.That(parameters, Is.EqualTo(4_762_310_656));
    }

    [Test]
    public void DerivesTheActivation()
    {
        Assert.That(T5Config.Parse("""{"feed_forward_proj": "gated-gelu"}""").DenseActFn, Is.EqualTo("gelu_new"));
        var relu = T5Config.Parse("""{"feed_forward_proj": "relu"}""");
        Assert.That((relu.DenseActFn, relu.IsGatedAct), Is.EqualTo(("relu", false)));
        var silu = T5Config.Parse("""{"feed_forward_proj": "gated-silu"}""");
        Assert.That((silu.DenseActFn, silu.IsGatedAct), Is.EqualTo(("silu", true)));
        Assert.Throws<InvalidDataException>(() => T5Config.Parse("""{"feed_forward_proj": "fancy-gelu"}"""));
        Assert.Throws<InvalidDataException>(() => T5Config.Parse("""{"d_model": 0}"""));
        Assert.Throws<InvalidDataException>(() => T5Config.Parse("""{"num_heads": "x"}"""));
    }
}

public sealed class T5ReferenceTests
{
    /// <summary>gelu_new check values (docs/t5.md §4.5, quirk T5): the tanh approximation, not the erf GELU.</summary>
    [Test]
    public void GeluNewMatchesTheSpecValues()
    {
        double[] z = [-3, -1, -0.5, 0, 0.5, 1, 3];
        double[] want = [-0.0036373921, -0.1588080094, -0.1542859902, 0, 0.3457140098, 0.8411919906, 2.9963626079];
        for (int i = 0; i < z.Length; i++) Assert.That(T5Reference.Activation("gelu_new", z[i]), Is.EqualTo(want[i]).Within(1e-9), $"z = {z[i]}");
    }
}
