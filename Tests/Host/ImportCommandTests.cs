using System.Text.Json.Nodes;
using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Tests.Pipelines;
using T2X.Vulkan;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Host;

/// <summary>`t2x import` through the real binary: official-layout parts (tiny widths) become a model folder that
/// `t2x generate` runs with no file written by hand; damaged parts are refused with the file and the mismatch named,
/// and nothing is left behind.</summary>
public sealed class ImportCommandTests
{
    string _dir = "";
    OfficialParts _parts = null!;

    [OneTimeSetUp]
    public void WriteParts()
    {
        _dir = Path.Combine(Path.GetTempPath(), "t2x-import-" + Guid.NewGuid().ToString("N"));
        _parts = OfficialParts.Write(Path.Combine(_dir, "downloads"));
    }

    [OneTimeTearDown]
    public void RemoveDir() => Directory.Delete(_dir, true);

    string P(string name) => Path.Combine(_dir, name);

    /// <summary>Nothing under the output's name and no temporary folder beside it.</summary>
    void NothingLeft(string output)
    {
        Assert.That(Directory.Exists(output), Is.False, $"{output} was created");
        Assert.That(Directory.EnumerateFileSystemEntries(_dir, "*.t2x-tmp"), Is.Empty, "a temporary folder was left");
    }

    /// <summary>Imports the parts with <paramref name="option"/> given <paramref name="value"/> instead, expects the refusal
    /// (exit 3, nothing written) and returns standard error.</summary>
    string Refused(string option, string value)
    {
        string model = P("refused-" + Guid.NewGuid().ToString("N")[..8]);
        var args = _parts.ImportArgs(model);
        args[Array.IndexOf(args, option) + 1] = value;
        var (code, _, stderr) = T2xProcess.Run(args);
        Assert.That(code, Is.EqualTo(3), stderr);
        NothingLeft(model);
        return stderr;
    }

    [Test]
    public void ImportsTheDownloadsAndGeneratesFromThem()
    {
        string model = P("qihoo-tiny");
        var (code, stdout, stderr) = T2xProcess.Run(_parts.ImportArgs(model));
        Assert.That(code, Is.EqualTo(0), stderr + stdout);
        Assert.That(stdout, Does.Contain("ok: caption width").And.Contain("ok: latent channels").And.Contain("weights under \"state_dict\""));

        // Links by default, to the downloaded files themselves; the index's shards come along.
        Assert.That(new FileInfo(Path.Combine(model, "transformer", "qihoo_t2i_tiny.pt")).LinkTarget, Is.EqualTo(_parts.TransformerFile));
        foreach (var f in new[] { "config.json", "model.safetensors.index.json", "model.fp16-00001-of-00002.safetensors", "model.fp16-00002-of-00002.safetensors" })
            Assert.That(new FileInfo(Path.Combine(model, "text_encoder", f)).LinkTarget, Is.EqualTo(Path.Combine(_parts.TextEncoder, f)), f);
        Assert.That(new FileInfo(Path.Combine(model, "vae", "checkpoint.ckpt")).LinkTarget, Is.EqualTo(Path.Combine(_parts.VaeDir, "checkpoint.ckpt")));
        Assert.That(File.Exists(Path.Combine(model, "tokenizer", "spiece.model")), Is.True);

        // Written from the inference config's sections: predictor, diffusion, pipeline_config, ae over the VAE's own config.
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "model_index.json")))!;
        Assert.That(index["diffusion"]!["num_inference_steps"]!.GetValue<int>(), Is.EqualTo(OfficialParts.Steps));
        Assert.That(index["input_size"]!.ToJsonString(), Is.EqualTo($"[1,{OfficialParts.Size},{OfficialParts.Size}]"));
        Assert.That(index["model_max_length"]!.GetValue<int>(), Is.EqualTo(8));
        var transformer = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "transformer", "config.json")))!;
        Assert.That((transformer["caption_channels"]!.GetValue<int>(), transformer["from_pretrained"]), Is.EqualTo((_parts.T5.DModel, (JsonNode?)null)));
        var vae = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "vae", "config.json")))!;
        Assert.That((vae["use_tiling"]!.GetValue<bool>(), vae["tile_sample_min_size"]!.GetValue<int>(), vae["hidden_size"]!.GetValue<int>()),
            Is.EqualTo((true, _parts.Vae.TileSampleMinSize, _parts.Vae.HiddenSize)), "ae overrides the VAE folder's tiling; the widths stay");

        var checkedAgain = T2xProcess.Run("import", "--check", model);
        Assert.That(checkedAgain.code, Is.EqualTo(0), checkedAgain.stderr);

        var plan = T2xProcess.Run("generate", "--model", model, "--dry-run", "--memory-budget", "1");
        Assert.That(plan.code, Is.EqualTo(0), plan.stderr);
        Assert.That(plan.stdout, Does.Contain($"plan for {OfficialParts.Size}x{OfficialParts.Size}").And.Contain("bf16").And.Contain("f16"));

        string png = P("red.png");
        var run = T2xProcess.Run("generate", "a red circle in the center", "--model", model, "--seed", "1", "-o", png);
        Assert.That(run.code, Is.EqualTo(0), run.stderr);
        var meta = PngMetadata.Read(png);
        Assert.That((meta.Model, meta.Settings.Width, meta.Settings.Steps), Is.EqualTo(("qihoo-tiny", OfficialParts.Size, OfficialParts.Steps)));
    }

    [Test]
    public void CopiesWithCopyAndReplacesOnlyWithForce()
    {
        string model = P("copied");
        var first = T2xProcess.Run(_parts.ImportArgs(model, "--copy", "--name", "mine"));
        Assert.That(first.code, Is.EqualTo(0), first.stderr);
        string pt = Path.Combine(model, "transformer", "qihoo_t2i_tiny.pt");
        Assert.That((new FileInfo(pt).LinkTarget, File.ReadAllBytes(pt).SequenceEqual(File.ReadAllBytes(_parts.TransformerFile))), Is.EqualTo(((string?)null, true)));
        Assert.That(File.ReadAllText(Path.Combine(model, "model_index.json")), Does.Contain("\"mine\""));

        var again = T2xProcess.Run(_parts.ImportArgs(model));
        Assert.That((again.code, again.stderr), Is.EqualTo((2, $"t2x import: {model} exists; use --force to overwrite it\n")));
        Assert.That(new FileInfo(pt).LinkTarget, Is.Null, "left unchanged");
        var forced = T2xProcess.Run(_parts.ImportArgs(model, "--force"));
        Assert.That(forced.code, Is.EqualTo(0), forced.stderr);
        Assert.That(new FileInfo(pt).LinkTarget, Is.EqualTo(_parts.TransformerFile));
        Assert.That(Directory.EnumerateFileSystemEntries(_dir, "*.t2x-tmp"), Is.Empty);
        Assert.That(File.Exists(_parts.TransformerFile), Is.True, "the replaced folder's links went, not what they pointed to");
    }

    [Test]
    public void WithoutAConfigTheReleasedValuesAreWritten()
    {
        // The released predictor is 28 blocks of width 1152: the tiny checkpoint does not match it, and the check says so.
        string model = P("released-defaults");
        var args = _parts.ImportArgs(model).ToList();
        args.RemoveRange(args.IndexOf("--config"), 2);
        var (code, _, stderr) = T2xProcess.Run([.. args]);
        Assert.That(code, Is.EqualTo(3), stderr);
        Assert.That(stderr, Does.Contain("transformer/qihoo_t2i_tiny.pt → " + _parts.TransformerFile + ": does not match transformer/config.json")
            .And.Contain("missing: transformer_blocks.2.scale_shift_table").And.Contain("scale_shift_table is [2,16], expected [2,1152]")
            .And.Contain($"caption width: transformer/config.json has caption_channels = 4096, but the text encoder gives d_model = {_parts.T5.DModel}"));
        NothingLeft(model);
    }

    [Test]
    public void AWrongCaptionWidthIsRefused()
    {
        string other = P("t5-wide");
        int wide = 2 * _parts.T5.DModel;
        OfficialParts.WriteTextEncoder(other, _parts.T5 with { DModel = wide }, 4);
        Assert.That(Refused("--text-encoder", other), Does.Contain($"caption width: transformer/config.json has caption_channels = {_parts.T5.DModel}, but the text encoder gives d_model = {wide} " +
                                         $"(text_encoder/config.json → {Path.Combine(other, "config.json")})"));
    }

    [Test]
    public void AMissingShardIsRefused()
    {
        string te = P("t5-one-shard");
        OfficialParts.WriteTextEncoder(te, _parts.T5, 3);
        File.Delete(Path.Combine(te, "model.fp16-00002-of-00002.safetensors"));
        Assert.That(Refused("--text-encoder", te), Does.Contain($"text_encoder/model.safetensors.index.json → {Path.Combine(te, "model.safetensors.index.json")}: " +
                                         "shard 'model.fp16-00002-of-00002.safetensors'").And.Contain("does not exist"));
    }

    [Test]
    public void AVaeWithOtherLatentChannelsIsRefused()
    {
        string vae = P("vae-8ch");
        OfficialParts.WriteVae(vae, _parts.Vae with { ZChannels = 8, EmbedDim = 8 }, 5);
        Assert.That(Refused("--vae", vae), Does.Contain("latent channels: transformer/config.json has in_channels = 4, but the VAE decodes embed_dim = 8 (vae/config.json)"));
    }

    [Test]
    public void AVaeCheckpointOfOtherWidthsIsRefused()
    {
        string vae = P("vae-wide");
        OfficialParts.WriteVae(vae, _parts.Vae with { HiddenSize = 16 }, 5);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(vae, "config.json")))!;
        config["hidden_size"] = _parts.Vae.HiddenSize;   // the config of one VAE beside the weights of another
        File.WriteAllText(Path.Combine(vae, "config.json"), config.ToJsonString());
        Assert.That(Refused("--vae", vae), Does.Contain($"vae/checkpoint.ckpt → {Path.Combine(vae, "checkpoint.ckpt")}: does not match vae/config.json")
            .And.Contain("decoder.conv_in.conv.weight is [64,4,3,3,3], expected [32,4,3,3,3]"));
    }

    [Test]
    public void ATransformerFolderWithTwoWeightFilesIsRefused()
    {
        string folder = P("two-weights");
        Directory.CreateDirectory(folder);
        File.Copy(_parts.TransformerFile, Path.Combine(folder, "a.pt"));
        File.Copy(_parts.TransformerFile, Path.Combine(folder, "b.pt"));
        Assert.That(Refused("--transformer", folder), Does.Contain($"model folder '{folder}' holds several candidate weight files (a.pt, b.pt)"));

        File.Delete(Path.Combine(folder, "b.pt"));   // one weights file: the folder is taken
        var args = _parts.ImportArgs(P("one-weights-file"));
        args[Array.IndexOf(args, "--transformer") + 1] = folder;
        var one = T2xProcess.Run(args);
        Assert.That(one.code, Is.EqualTo(0), one.stderr);
    }

    [Test]
    public void IntegerWeightsAreRefused()
    {
        // The official keys and shapes, but one table stored as int64.
        string pt = P("int-table.pt");
        using (var source = Checkpoint.Open(_parts.TransformerFile))
            TorchCheckpoint.Write(pt, source.Tensors.Select(t => (t.Name, t.Name == "scale_shift_table"
                ? new HostTensor(DType.I64, t.Shape, new byte[t.Elements * 8]) : source.Read(t.Name))).ToList());
        Assert.That(Refused("--transformer", pt), Does.Contain($"transformer/int-table.pt → {pt}: 1 tensors are not floating point (f32, f16, bf16): scale_shift_table is i64"));
    }

    [Test]
    public void TheBuiltinModelPassesTheCheck()
    {
        string builtin = Path.Combine(Path.GetDirectoryName(T2xProcess.Binary)!, "BuiltinModel");
        var (code, stdout, stderr) = T2xProcess.Run("import", "--check", builtin);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("ok: transformer: transformer/").And.Contain("ok: caption width").And.Not.Contain("latent channels"));
    }

    [Test]
    public void CheckNamesWhatBrokeInAnImportedFolder()
    {
        string te = P("t5-later-lost");
        OfficialParts.WriteTextEncoder(te, _parts.T5, 3);
        string model = P("checked");
        var args = _parts.ImportArgs(model);
        args[Array.IndexOf(args, "--text-encoder") + 1] = te;
        Assert.That(T2xProcess.Run(args).code, Is.EqualTo(0));
        File.Delete(Path.Combine(te, "model.fp16-00001-of-00002.safetensors"));   // a download removed after the import
        var (code, _, stderr) = T2xProcess.Run("import", "--check", model);
        Assert.That(code, Is.EqualTo(3), stderr);
        Assert.That(stderr, Does.Contain($"text_encoder/model.fp16-00001-of-00002.safetensors → {Path.Combine(te, "model.fp16-00001-of-00002.safetensors")}: " +
                                         "the file it links to does not exist").And.Contain($"{model}: 1 problem"));
    }
}
