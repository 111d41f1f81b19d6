using NUnit.Framework;
using T2X.Vulkan.Models.PtDit;

namespace T2X.Tests.Models;

public class PtDitConfigTests
{
    const string Released = """
    {"predictor": {"dtype": "bf16", "model_id": "ptdit", "num_heads": 16, "head_dim": 72, "in_channels": 4, "out_channels": 8,
      "num_layers": 28, "dropout": 0.0, "norm_num_groups": 32, "cross_attention_dim": 1152, "attention_bias": true,
      "sample_size": 32, "frame": 1, "patch_size": 2, "activation_fn": "gelu-approximate", "num_embeds_ada_norm": 1000,
      "upcast_attention": false, "norm_type": "ada_norm_single", "norm_elementwise_affine": false, "norm_eps": 1e-06,
      "attention_type": "default", "caption_channels": 4096, "compress_ratios": [1, 8, 8], "proxy_compress_ratios": [1, 8, 8],
      "shift_window": true, "from_pretrained": "./pretrain_models/XXX.pt"},
     "diffusion": {"model_id": "rflow"}}
    """;

    [Test]
    public void ReadsTheOfficialInferenceJsonPredictorSection()
    {
        var c = PtDitConfig.Parse(Released);
        Assert.That(c, Is.EqualTo(PtDitConfig.Released).Using<PtDitConfig>((a, b) => a.ToJson() == b.ToJson()));
        Assert.That(c.Dim, Is.EqualTo(1152));
        Assert.That(PtDitKeys.Expected(c), Has.Count.EqualTo(1416));
    }

    [Test]
    public void KeysMatchTheSpecTable()
    {
        // The released state_dict (docs/ptdit.md §13), kept as data in the checkout.
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "ptdit", "released-keys.tsv");
        var tsv = File.ReadAllLines(path).Where(l => !l.StartsWith('#')).ToList();
        var keys = PtDitKeys.Expected(PtDitConfig.Released);
        Assert.That(keys.Select(k => $"{k.Name}\t{string.Join(",", k.Shape)}"), Is.EqualTo(tsv.Select(l => string.Join("\t", l.Split('\t').Take(2)))));
    }

    [Test]
    public void TopLevelKeysRoundTrip()
    {
        var c = PtDitConfig.Released with { NumHeads = 2, HeadDim = 16, CrossAttentionDim = 32, NumLayers = 3, CompressRatios = [2, 4, 2], ProxyCompressRatios = [1, 2, 1], ShiftWindow = false };
        var back = PtDitConfig.Parse(c.ToJson());
        Assert.That(back.ToJson(), Is.EqualTo(c.ToJson()));
        Assert.That(back.ProxyStride, Is.EqualTo((1, 2, 2)));
    }

    [TestCase("num_heads", "0", "num_heads")]
    [TestCase("cross_attention_dim", "1000", "cross_attention_dim")]
    [TestCase("norm_type", "\"layer_norm\"", "norm_type")]
    [TestCase("compress_ratios", "[1, 8]", "compress_ratios")]
    [TestCase("proxy_compress_ratios", "[1, 3, 8]", "proxy_compress_ratios[1]")]
    [TestCase("head_dim", "\"72\"", "head_dim")]
    [TestCase("sample_size", "128", "sample_size 128")]
    [TestCase("sample_size", "null", "sample_size")]
    [TestCase("in_channels", null, "in_channels")]
    public void BadValuesNameTheKey(string key, string? value, string expected)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(Released)!;
        var predictor = json["predictor"]!.AsObject();
        predictor.Remove(key);
        if (value != null) predictor[key] = System.Text.Json.Nodes.JsonNode.Parse(value);
        var e = Assert.Throws<InvalidDataException>(() => PtDitConfig.Parse(json.ToJsonString()));
        Assert.That(e!.Message, Does.Contain(expected));
    }

    [Test]
    public void MissingKeysTakeTheOfficialDefaults()
    {
        const string minimal = """{"in_channels": 4, "caption_channels": 64, "cross_attention_dim": 1408, "patch_size": 2, "sample_size": 32, "frame": 1""";
        var c = PtDitConfig.Parse(minimal + """, "norm_type": "ada_norm_single", "activation_fn": "gelu-approximate", "norm_elementwise_affine": false}""");
        Assert.That((c.HeadDim, c.NumLayers, c.OutChannels, c.ShiftWindow, c.AttentionBias, c.NormEps), Is.EqualTo((88, 1, 4, false, false, 1e-5)));
        Assert.That(c.ProxyCompressRatios, Is.EqualTo(new[] { 1, 4, 4 }));
        var old = PtDitConfig.Parse(minimal + """, "num_attention_heads": 4, "attention_head_dim": 352, "norm_type": "ada_norm_single", "activation_fn": "gelu-approximate", "norm_elementwise_affine": false}""");
        Assert.That((old.NumHeads, old.HeadDim), Is.EqualTo((4, 352)));
        var e = Assert.Throws<InvalidDataException>(() => PtDitConfig.Parse(minimal + "}"));
        Assert.That(e!.Message, Does.Contain("norm_type"));
    }

    [Test]
    public void SizeRuleNamesTheNearestAllowedSizes()
    {
        var c = PtDitConfig.Released;
        c.CheckLatentSize(1, 128, 96);
        var e = Assert.Throws<ArgumentException>(() => c.CheckLatentSize(1, 128, 100));
        Assert.That(e!.Message, Does.Contain("width 100").And.Contain("16").And.Contain("96 or 112"));
        e = Assert.Throws<ArgumentException>(() => c.CheckLatentSize(1, 8, 128));
        Assert.That(e!.Message, Does.Contain("height 8").And.Contain("nearest allowed: 16"));
        var video = c with { CompressRatios = [2, 8, 8] };
        e = Assert.Throws<ArgumentException>(() => video.CheckLatentSize(3, 16, 16));
        Assert.That(e!.Message, Does.Contain("frames 3").And.Contain("2 or 4"));
        e = Assert.Throws<ArgumentException>(() => c.CheckPixelSize(1000, 1024));
        Assert.That(e!.Message, Does.Contain("height 1000 px").And.Contain("896 or 1024 px"));
        c.CheckPixelSize(768, 1280);
    }
}
