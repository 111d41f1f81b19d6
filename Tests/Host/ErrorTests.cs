using System.Text.Json.Nodes;
using NUnit.Framework;

namespace T2X.Tests.Host;

/// <summary>Every failure is one message and an exit code (2 usage, 3 bad input, 4 device or memory), never a stack
/// trace unless T2X_DEBUG=1; values of the wrong type or out of range name their key or option.</summary>
public class ErrorTests
{
    string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("t2x-errors-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    string P(string name) => Path.Combine(_dir, name);

    /// <summary>A copy of the built-in model whose model_index.json is changed by <paramref name="change"/>.</summary>
    string Model(Action<JsonObject> change)
    {
        string source = Path.GetDirectoryName(T2xProcess.Binary)! + "/BuiltinModel", dir = P("model");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(dir, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "model_index.json")))!.AsObject();
        change(index);
        File.WriteAllText(Path.Combine(dir, "model_index.json"), index.ToJsonString());
        return dir;
    }

    static void AssertOneLine((int code, string stdout, string stderr) r, int code, string message)
    {
        Assert.That(r.code, Is.EqualTo(code), r.stderr);
        Assert.That(r.stderr, Does.Contain(message));
        Assert.That(r.stderr.TrimEnd('\n'), Does.Not.Contain("\n"), "one line");
        Assert.That(r.stderr, Does.Not.Contain("   at "), "no stack trace");
    }

    [TestCase("model_max_length", "\"32\"", "'model_max_length' must be an integer from 1 to 4096, got \"32\"")]
    [TestCase("model_max_length", "2000000000", "'model_max_length' must be an integer from 1 to 4096, got 2000000000")]
    [TestCase("diffusion.num_inference_steps", "\"20\"", "'diffusion.num_inference_steps' must be an integer from 1 to 1000, got \"20\"")]
    [TestCase("diffusion.num_train_steps", "0", "'diffusion.num_train_steps' must be an integer from 1 to 1000000, got 0")]
    [TestCase("diffusion.cfg_scale", "1e39", "'diffusion.cfg_scale' must be a number from -1000 to 1000, got 1e39")]
    [TestCase("diffusion", "[1]", "'diffusion' must be an object, got [1]")]
    [TestCase("input_size", "[1, 2000000000, 64]", "'input_size' must be [frames, height, width] in pixels")]
    [TestCase("clean_caption", "\"yes\"", "'clean_caption' must be true or false, got \"yes\"")]
    public void BadValuesInModelIndexNameTheKey(string key, string json, string message)
    {
        string model = Model(index =>
        {
            var parts = key.Split('.');
            var obj = parts.Length == 1 ? index : index[parts[0]]!.AsObject();
            obj[parts[^1]] = JsonNode.Parse(json);
        });
        AssertOneLine(T2xProcess.Run("generate", "x", "--model", model, "--dry-run", "--memory-budget", "1"), 3, message);
    }

    [TestCase("tokenize", "--max-length", "2000000000", "--max-length expects an integer from 1 to 4096, got '2000000000'")]
    [TestCase("encode", "--max-length", "2000000000", "--max-length expects an integer from 1 to 4096, got '2000000000'")]
    [TestCase("sample", "--height", "2000000000", "--height expects an integer from 1 to 8192, got '2000000000'")]
    [TestCase("sample", "--width", "-3", "--width expects an integer from 1 to 8192, got '-3'")]
    [TestCase("sample", "--frames", "2000000000", "--frames expects an integer from 1 to 1000, got '2000000000'")]
    [TestCase("sample", "--steps", "2000000000", "--steps expects an integer from 1 to 1000, got '2000000000'")]
    [TestCase("sample", "--cfg", "nan", "--cfg expects a finite number from -1000 to 1000, got 'nan'")]
    [TestCase("sample", "--cfg", "1e39", "--cfg expects a finite number from -1000 to 1000, got '1e39'")]
    [TestCase("generate", "--cfg", "inf", "--cfg expects a finite number, got 'inf'")]
    [TestCase("generate", "--steps", "99999999999", "--steps expects an integer, got '99999999999'")]
    public void OutOfRangeOptionsAreUsageErrors(string command, string option, string value, string message)
    {
        string[] args = command switch
        {
            "tokenize" => ["tokenize", "--tokenizer", P("tok"), "--prompts", P("p.json"), "--output", P("o.safetensors")],
            "encode" => ["encode", "--text-encoder", P("t5"), "--tokenizer", P("tok"), "--prompt", "x", "--output", P("o.safetensors")],
            "sample" => ["sample", "--transformer", P("tr"), "--inputs", P("in.safetensors"), "--output", P("o.safetensors")],
            _ => ["generate", "x", "-o", P("o.png")],
        };
        AssertOneLine(T2xProcess.Run([.. args, option, value]), 2, $"t2x {command}: {message}");
    }

    [Test]
    public void TheStackTraceIsShownOnlyWithT2xDebug()
    {
        string[] args = ["tokenize", "--tokenizer", P("missing"), "--prompts", P("missing.json"), "--output", P("o.safetensors")];
        AssertOneLine(T2xProcess.Run(args), 3, "missing.json");
        var debug = T2xProcess.RunWith(new Dictionary<string, string> { ["T2X_DEBUG"] = "1" }, args);
        Assert.That(debug.code, Is.EqualTo(3));
        Assert.That(debug.stderr, Does.Contain("missing.json").And.Contain("   at "));
    }

    [Test]
    public void AnOutputFolderThatIsMissingOrAFolderFailsBeforeTheWork()
    {
        File.WriteAllText(P("p.json"), "[\"x\"]");
        string[] Tokenize(string output) => ["tokenize", "--tokenizer", P("tok"), "--prompts", P("p.json"), "--output", output];
        var (code, _, stderr) = T2xProcess.Run(Tokenize(Path.Combine(_dir, "missing", "out.safetensors")));
        Assert.That((code, stderr), Is.EqualTo((3, $"t2x tokenize: folder {Path.Combine(_dir, "missing")} does not exist\n")));
        Directory.CreateDirectory(P("out.safetensors"));
        (code, _, stderr) = T2xProcess.Run([.. Tokenize(P("out.safetensors")), "--force"]);
        Assert.That((code, stderr), Is.EqualTo((3, $"t2x tokenize: {P("out.safetensors")} is a folder, not a file\n")));
    }
}
