using NUnit.Framework;
using T2X.Tests.Pipelines;
using T2X.Vulkan.Files;

namespace T2X.Tests.Host;

/// <summary>Every file t2x writes goes through <see cref="AtomicFile"/>: an existing file (or one that appears while the
/// work runs) is never replaced without --force, and no temporary file is left behind.</summary>
public class OutputFileTests
{
    string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("t2x-output-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    string P(string name) => Path.Combine(_dir, name);

    static readonly string SpieceModel = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "t5", "spiece.model");

    string Tokenizer()
    {
        string dir = P("tokenizer");
        Directory.CreateDirectory(dir);
        File.Copy(SpieceModel, Path.Combine(dir, "spiece.model"), overwrite: true);
        File.WriteAllText(P("prompts.json"), "[\"a red circle\"]");
        return dir;
    }

    string[] Tokenize(string output) => ["tokenize", "--tokenizer", Tokenizer(), "--prompts", P("prompts.json"), "--max-length", "8", "--output", output];

    string Precious(string name)
    {
        File.WriteAllText(P(name), "precious");
        return P(name);
    }

    void AssertNoTempFiles() =>
        Assert.That(Directory.GetFiles(_dir, "*" + AtomicFile.TempSuffix), Is.Empty, "temporary files left behind");

    [TestCase("tokenize")]
    [TestCase("encode")]
    [TestCase("forward")]
    [TestCase("sample")]
    [TestCase("decode")]
    public void TensorCommandsKeepAnExistingOutputWithoutForce(string command)
    {
        string output = Precious("out.safetensors");
        string[] args = command switch
        {
            "tokenize" => Tokenize(output),
            "encode" => ["encode", "--text-encoder", P("t5"), "--inputs", P("in.safetensors"), "--output", output],
            "forward" => ["forward", "--transformer", P("tr"), "--inputs", P("in.safetensors"), "--output", output],
            "sample" => ["sample", "--transformer", P("tr"), "--inputs", P("in.safetensors"), "--output", output, "--steps", "2"],
            _ => ["decode", "--vae", P("vae"), "--inputs", P("in.safetensors"), "--output", output],
        };
        var (code, _, stderr) = T2xProcess.Run(args);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Is.EqualTo($"t2x {command}: {output} exists; use --force to overwrite it\n"));
        Assert.That(File.ReadAllText(output), Is.EqualTo("precious"));
        AssertNoTempFiles();
    }

    [Test]
    public void ForceReplacesAnExistingTensorOutput()
    {
        string output = Precious("out.safetensors");
        var (code, _, stderr) = T2xProcess.Run([.. Tokenize(output), "--force"]);
        Assert.That(code, Is.EqualTo(0), stderr);
        using (var f = T2X.Vulkan.Weights.SafeTensors.Open(output))
            Assert.That(f.Tensors.Select(t => t.Name), Is.EquivalentTo(new[] { "input_ids", "attention_mask" }));
        AssertNoTempFiles();
    }

    [Test]
    public void AFileCreatedWhileGenerateRunsIsNotReplaced()
    {
        string model = TestModelFolder.Create(P("model"));
        string output = P("out.png");
        var (code, _, stderr) = T2xProcess.RunAndActWhen("step   1/", () => File.WriteAllText(output, "precious"),
            "generate", "a red circle", "--model", model, "--steps", "300", "--seed", "1", "-o", output);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.EndWith($"t2x generate: {output} exists; use --force to overwrite it\n"));
        Assert.That(File.ReadAllText(output), Is.EqualTo("precious"));
        AssertNoTempFiles();
    }

    [Test]
    public void StaleTemporaryFilesAreRemovedAndFreshOnesKept()
    {
        string stale = Precious($".old.png.0123{AtomicFile.TempSuffix}"), fresh = Precious($".new.png.4567{AtomicFile.TempSuffix}");
        string unrelated = Precious(".notes.tmp");
        foreach (var f in new[] { stale, unrelated }) File.SetLastWriteTimeUtc(f, DateTime.UtcNow - AtomicFile.StaleAfter - TimeSpan.FromMinutes(5));
        var (code, _, stderr) = T2xProcess.Run(Tokenize(P("out.safetensors")));
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That((File.Exists(stale), File.Exists(fresh), File.Exists(unrelated)), Is.EqualTo((false, true, true)));
    }

    [Test]
    public void ViewKeepsAnExistingScreenshotWithoutForce()
    {
        string shot = Precious("shot.png");
        var (code, _, stderr) = T2xProcess.Run("view", "x", "--synthetic", "--screenshot", shot, "--exit-after-final");
        Assert.That((code, stderr), Is.EqualTo((2, $"t2x view: {shot} exists; use --force to overwrite it\n")));
        Assert.That(File.ReadAllText(shot), Is.EqualTo("precious"));
    }

    [Test]
    public void OutputNamesThatAreNeitherPngNorAFolderAreRefused()
    {
        var r = T2xProcess.Run("generate", "x", "-o", P("pic.jpg"));
        Assert.That((r.code, r.stderr), Is.EqualTo((2, $"t2x generate: {P("pic.jpg")}: t2x writes PNG, not .jpg: give a .png file or a folder (create a folder whose name has a dot first)\n")));
        r = T2xProcess.Run("generate", "x", "-o", "-");
        Assert.That((r.code, r.stderr), Is.EqualTo((2, "t2x generate: -o - (standard output) is not supported: give a .png file or a folder\n")));
        Assert.That(Directory.EnumerateFileSystemEntries(_dir), Is.Empty, "no folder made");
        Assert.That(Directory.Exists("-"), Is.False);
    }

    [Test]
    public void PromptsWithoutLettersOrDigitsGetNamesOfTheirOwn()
    {
        string model = TestModelFolder.Create(P("model"));
        foreach (var prompt in new[] { "", "  ", "!?" })
        {
            var r = T2xProcess.Run("generate", prompt, "--model", model, "--steps", "1", "--seed", "5", "-o", P("out"));
            Assert.That(r.code, Is.EqualTo(0), r.stderr);
        }
        var names = Directory.GetFiles(P("out")).Select(Path.GetFileName).ToArray();
        Assert.That(names, Has.Length.EqualTo(3));
        Assert.That(names, Has.All.Match("^t2x-[0-9a-f]{8}-5\\.png$"));
    }
}
