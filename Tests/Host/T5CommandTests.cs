using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using NUnit.Framework;
using T2X.Tests.Models;
using T2X.Tests.Reference;
using T2X.Vulkan;
using T2X.Vulkan.Text;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Host;

/// <summary>t2x tokenize and t2x encode, run as the real binary from the build output.</summary>
public sealed class T5CommandTests
{
    string _dir = "";
    static readonly string SpieceModel = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "t5", "spiece.model");

    [SetUp]
    public void MakeDir() { _dir = Path.Combine(Path.GetTempPath(), "t2x-t5cmd-" + Guid.NewGuid().ToString("N")); Directory.CreateDirectory(_dir); }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, true);

    string P(string name) => Path.Combine(_dir, name);

    static (int code, string stdout, string stderr) T2x(params string[] args) => T2X.Tests.Host.T2xProcess.Run(args);

    static long[] ReadInt64(SafeTensors f, string name, params long[] shape)
    {
        var info = f.Tensors.Single(t => t.Name == name);
        Assert.That((info.DType, info.Shape), Is.EqualTo((DType.I64, shape)), name);
        return MemoryMarshal.Cast<byte, long>(f.Read(name).Bytes).ToArray();
    }

    string TokenizerFolder()
    {
        string dir = P("tokenizer");
        Directory.CreateDirectory(dir);
        File.Copy(SpieceModel, Path.Combine(dir, "spiece.model"));
        return dir;
    }

    static readonly string[] Prompts =
    [
        "A dog wearing virtual reality goggles in sunset, 4k, high resolution.", "", "  ", "a <extra_id_0> b </s>",
        "ＡＢＣ café москва 東京 😀", string.Join(" ", Enumerable.Repeat("red fox", 150)),
    ];

    [TestCase(32, false)]
    [TestCase(200, true)]
    public void TokenizeWritesIdsAndMasks(int maxLength, bool clean)
    {
        File.WriteAllText(P("prompts.json"), JsonSerializer.Serialize(Prompts));
        string[] args = ["tokenize", "--tokenizer", TokenizerFolder(), "--prompts", P("prompts.json"),
            "--max-length", maxLength.ToString(), "--output", P("tokens.safetensors"), .. clean ? new[] { "--clean" } : []];
        var (code, _, stderr) = T2x(args);
        Assert.That(code, Is.EqualTo(0), stderr);
        using var f = SafeTensors.Open(P("tokens.safetensors"));
        var ids = ReadInt64(f, "input_ids", Prompts.Length, maxLength);
        var mask = ReadInt64(f, "attention_mask", Prompts.Length, maxLength);
        var tok = new T5Tokenizer(SentencePieceModel.Read(SpieceModel));
        var want = tok.EncodeBatch(clean ? Prompts.Select(CaptionCleaner.Clean).ToList() : Prompts, maxLength);
        Assert.That(ids, Is.EqualTo(want.InputIds));
        Assert.That(mask, Is.EqualTo(want.AttentionMask));
        Assert.That(ids[maxLength], Is.EqualTo(1), "the empty prompt is [</s>, <pad>...]");
        Assert.That(ids[6 * maxLength - 1], Is.EqualTo(1), "a long prompt keeps EOS in its last position");
    }

    [Test]
    public void TokenizeReportsBadInput()
    {
        File.WriteAllText(P("bad.json"), "{\"a\": 1}");
        var (code, _, stderr) = T2x("tokenize", "--tokenizer", TokenizerFolder(), "--prompts", P("bad.json"), "--max-length", "8", "--output", P("o.safetensors"));
        Assert.That(code, Is.EqualTo(3));
        Assert.That(stderr, Does.Contain("expected a JSON array"));
        (code, _, stderr) = T2x("tokenize", "--tokenizer", _dir, "--prompts", P("bad.json"), "--max-length", "8", "--output", P("o.safetensors"));
        Assert.That((code, stderr.Contains("no spiece.model") || stderr.Contains("JSON array")), Is.EqualTo((3, true)));
        (code, _, stderr) = T2x("tokenize", "--tokenizer", _dir, "--max-length", "8", "--output", P("o.safetensors"));
        Assert.That((code, stderr.Contains("--prompts is required")), Is.EqualTo((2, true)));
        Assert.That(File.Exists(P("o.safetensors")), Is.False);
    }

    [Test]
    public void EncodeInputsMatchesTheReference()
    {
        var c = T5TestModel.Tiny(layers: 2);
        var w = T5TestModel.RandomWeights(c, DType.F16, new Random(21));
        T5TestModel.WriteFolder(P("t5"), c, w, shards: 2);
        var (ids, mask) = T5TestModel.Batch(new Random(22), c.VocabSize, 19, 19, 4, 1);
        SafeTensors.Write(P("in.safetensors"), [("input_ids", Int64(ids, 3, 19)), ("attention_mask", Int64(mask, 3, 19))]);
        var (code, _, stderr) = T2x("encode", "--text-encoder", P("t5"), "--inputs", P("in.safetensors"), "--output", P("out.safetensors"));
        Assert.That(code, Is.EqualTo(0), stderr);
        using var f = SafeTensors.Open(P("out.safetensors"));
        Assert.That(f.Tensors.Select(t => (t.Name, t.DType, t.Shape)), Is.EqualTo(new[] { ("last_hidden_state", DType.F32, new long[] { 3, 19, c.DModel }) }));
        Check.Close(f.Read("last_hidden_state").ToFloat32(), T5Reference.Forward(c, w, ids, mask, 3, 19), 1e-5, "last_hidden_state");
    }

    [Test]
    public void EncodePromptRunsTheWholeTextSide()
    {
        var c = T5TestModel.Tiny(layers: 1) with { VocabSize = 512 };
        var w = T5TestModel.RandomWeights(c, DType.BF16, new Random(23));
        T5TestModel.WriteFolder(P("t5"), c, w);
        const string prompt = "A Red FOX by @artist, https://example.com";
        var (code, _, stderr) = T2x("encode", "--text-encoder", P("t5"), "--tokenizer", TokenizerFolder(), "--prompt", prompt,
            "--max-length", "24", "--output", P("out.safetensors"));
        Assert.That(code, Is.EqualTo(0), stderr);
        using var f = SafeTensors.Open(P("out.safetensors"));
        var ids = ReadInt64(f, "input_ids", 2, 24);
        var mask = ReadInt64(f, "attention_mask", 2, 24);
        var want = new T5Tokenizer(SentencePieceModel.Read(SpieceModel)).EncodeBatch([CaptionCleaner.Clean(prompt), ""], 24);
        Assert.That(ids, Is.EqualTo(want.InputIds));
        Assert.That(mask, Is.EqualTo(want.AttentionMask));
        Assert.That(ids[24..], Is.EqualTo(new long[] { 1 }.Concat(new long[23])), "the unconditional row encodes \"\"");
        Check.Close(f.Read("last_hidden_state").ToFloat32(), T5Reference.Forward(c, w, ids, mask, 2, 24), 1e-5, "last_hidden_state");
    }

    [Test]
    public void EncodeReportsBadInput()
    {
        var c = T5TestModel.Tiny(layers: 1);
        T5TestModel.WriteFolder(P("t5"), c, T5TestModel.RandomWeights(c, DType.F32, new Random(24)));
        SafeTensors.Write(P("in.safetensors"), [("input_ids", Int64([1, 99], 1, 2)), ("attention_mask", Int64([1, 1], 1, 2))]);
        var (code, _, stderr) = T2x("encode", "--text-encoder", P("t5"), "--inputs", P("in.safetensors"), "--output", P("out.safetensors"));
        Assert.That((code, stderr.Contains("outside the vocabulary")), Is.EqualTo((3, true)), stderr);
        SafeTensors.Write(P("in2.safetensors"), [("input_ids", Int64([1, 2], 1, 2))]);
        (code, _, stderr) = T2x("encode", "--text-encoder", P("t5"), "--inputs", P("in2.safetensors"), "--output", P("out.safetensors"));
        Assert.That((code, stderr.Contains("attention_mask")), Is.EqualTo((3, true)), stderr);
        (code, _, stderr) = T2x("encode", "--text-encoder", P("t5"), "--output", P("out.safetensors"));
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(File.Exists(P("out.safetensors")), Is.False);
    }

    static HostTensor Int64(long[] v, params long[] shape) => new(DType.I64, shape, MemoryMarshal.AsBytes(v.AsSpan()).ToArray());
}
