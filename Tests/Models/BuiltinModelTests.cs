using NUnit.Framework;
using T2X.Tests.Reference;
using T2X.Tests.Weights;
using T2X.Benchmarks;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Text;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Models;

/// <summary>
/// The shipped built-in model (Host/BuiltinModel) is what the trainer trained: the engine's readers load every part,
/// and the CPU references of T5 and PT-DiT, run on the shipped weights, reproduce the trainer's own forward pass on
/// the check case the export wrote (Tests/Models/Data/builtin-check.safetensors).
/// </summary>
public class BuiltinModelTests
{
    static string ModelDir => Path.Combine(WeightFiles.RepoRoot(), "Host", "BuiltinModel");
    static string CheckFile => Path.Combine(WeightFiles.RepoRoot(), "Tests", "Models", "Data", "builtin-check.safetensors");

    static Dictionary<string, HostTensor> ReadAll(string path)
    {
        using var source = Checkpoint.Open(path);
        return source.Tensors.ToDictionary(t => t.Name, t => source.Read(t.Name));
    }

    [Test]
    public void ShippedModelFitsTheSizeBudget()
    {
        long bytes = new DirectoryInfo(ModelDir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        Assert.That(bytes, Is.LessThanOrEqualTo(10L << 20), "the built-in model is at most 10 MB");
    }

    [Test]
    public void TokenizerGivesTheTrainersIds()
    {
        var check = ReadAll(CheckFile);
        using var source = SafeTensors.Open(CheckFile);
        string prompt = source.Metadata["prompt"];
        var tokenizer = T5Tokenizer.FromFolder(Path.Combine(ModelDir, "tokenizer"));
        var batch = tokenizer.EncodeBatch([prompt], 32);
        var want = check["ids"];
        Assert.That(batch.Ids(0).ToArray(), Is.EqualTo(MemoryMarshalLongs(want)), prompt);
        Assert.That(tokenizer.Encode("a purple circle"), Does.Contain(tokenizer.UnkId), "words outside the grammar are unknown");
    }

    static long[] MemoryMarshalLongs(HostTensor t)
    {
        var values = new long[t.Elements];
        Buffer.BlockCopy(t.Bytes, 0, values, 0, t.Bytes.Length);
        return values;
    }

    [Test]
    public void ReferenceForwardMatchesTheTrainer()
    {
        var check = ReadAll(CheckFile);
        var ids = MemoryMarshalLongs(check["ids"]);
        var maskF = check["mask"].ToFloat32();
        var mask = maskF.Select(m => (long)m).ToArray();
        int length = ids.Length;

        var t5 = T5Config.FromFolder(Path.Combine(ModelDir, "text_encoder"));
        var text = T5Reference.Forward(t5, ReadAll(Path.Combine(ModelDir, "text_encoder", "model.safetensors")), ids, mask, 1, length);
        Check.Close(check["text"].ToFloat32(), text, 1e-5, "T5 last_hidden_state");

        var config = PtDitConfig.Load(Path.Combine(ModelDir, "transformer", "config.json"));
        var reference = new PtDitReference(config, ReadAll(Path.Combine(ModelDir, "transformer", "diffusion_pytorch_model.safetensors")));
        var x = check["x"];
        int size = (int)x.Shape[2];
        var output = reference.Forward(x.ToFloat64(), 1, 1, size, size, check["t"].ToFloat64(), text, length, maskF.Select(m => (double)m).ToArray());
        Check.Close(check["out"].ToFloat32(), output, 1e-4, "PT-DiT output");
    }

    /// <summary>The GPU trainer (Tools/Trainer/gpu/train.py, a PyTorch port of the TorchSharp trainer) computes the
    /// trainer's T5 states and PT-DiT output on the check case from the shipped weights (only where PyTorch is installed).</summary>
    [Test]
    public void GpuTrainerComputesWhatTheTrainerComputes()
    {
        if (!SystemPyTorch.Installed()) Assert.Fail("PyTorch is not installed (bash Tools/install-deps.sh installs python3-torch): the GPU trainer's port is not checked");
        string script = Path.Combine(WeightFiles.RepoRoot(), "Tools", "Trainer", "gpu", "train.py");
        var (code, output, errors) = SystemPyTorch.Run([script, "--check", CheckFile, "--model", ModelDir]);
        Assert.That(code, Is.EqualTo(0), output + errors);
    }
}
