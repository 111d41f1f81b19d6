using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using NUnit.Framework;
using T2X.Tests.Pipelines;
using T2X.Vulkan;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Weights;

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
        // A folder that takes no new files (even for root): refused before the work, not after.
        (code, _, stderr) = T2xProcess.Run(Tokenize("/proc/out.safetensors"));
        Assert.That(code, Is.EqualTo(3), stderr);
        Assert.That(stderr, Does.StartWith("t2x tokenize: cannot write files in folder /proc ("));
    }

    // ---- inputs that would take unbounded memory or block ----

    static byte[] PngChunk(string type, byte[] data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk, 8);
        return chunk;   // the CRC is left 0: t2x reads text chunks without checking it, as a careless writer may
    }

    [Test]
    public void APngWhoseTextInflatesToGigabytesIsRefused()
    {
        // A 64 MiB prompt deflated to about 64 KiB (a 1 GiB one would make a 1 MB file: the same path, only slower to build).
        var z = new MemoryStream();
        using (var zlib = new ZLibStream(z, CompressionLevel.SmallestSize, leaveOpen: true))
            for (int i = 0; i < 64; i++) zlib.Write(new byte[1 << 20]);
        byte[] Text(string key, byte[] rest) => [.. Encoding.Latin1.GetBytes(key), 0, .. rest];
        byte[] ihdr = [0, 0, 0, 8, 0, 0, 0, 8, 8, 2, 0, 0, 0];
        File.WriteAllBytes(P("bomb.png"), [0x89, .. "PNG\r\n\x1a\n"u8, .. PngChunk("IHDR", ihdr), .. PngChunk("tEXt", Text("seed", "1"u8.ToArray())),
            .. PngChunk("zTXt", Text("prompt", [0, .. z.ToArray()])), .. PngChunk("IEND", [])]);
        var r = T2xProcess.Run("generate", "--from", P("bomb.png"), "-o", P("out.png"));
        AssertOneLine(r, 3, $"{P("bomb.png")}: the PNG's text chunks hold more than {PngMetadata.MaxTextBytes} bytes of text");
        Assert.That(File.Exists(P("out.png")), Is.False);

        File.WriteAllBytes(P("cut.png"), [0x89, .. "PNG\r\n\x1a\n"u8, .. PngChunk("IHDR", ihdr)[..20]]);
        AssertOneLine(T2xProcess.Run("generate", "--from", P("cut.png")), 3, "PNG chunk 'IHDR' of 13 bytes runs past the end of the file");
    }

    [Test]
    public void APickleOfAMillionNonesIsRefused()
    {
        using (var f = File.Create(P("nones.pt")))
        {
            var zip = new ZipWriter(f);
            zip.Add("archive/data.pkl", [0x80, 2, .. Enumerable.Repeat((byte)'N', (1 << 20) + 1), (byte)'.']);
            zip.Finish();
        }
        AssertOneLine(T2xProcess.Run("inspect", P("nones.pt")), 3, "more than 1048576 values on the pickle stack");
    }

    static void MakeFifo(string path)
    {
        using var p = System.Diagnostics.Process.Start("mkfifo", path)!;
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.EqualTo(0), "mkfifo");
    }

    [Test]
    public void FifosAndDevicesAreRefusedWhereAFileIsExpected()
    {
        MakeFifo(P("fifo.pt"));
        AssertOneLine(T2xProcess.Run("inspect", P("fifo.pt")), 3, $"{P("fifo.pt")} is a FIFO, not a regular file");

        string model = Model(_ => { });
        File.Delete(Path.Combine(model, "tokenizer", "spiece.model"));
        File.CreateSymbolicLink(Path.Combine(model, "tokenizer", "spiece.model"), "/dev/zero");
        File.WriteAllText(P("p.json"), "[\"x\"]");
        AssertOneLine(T2xProcess.Run("tokenize", "--tokenizer", Path.Combine(model, "tokenizer"), "--prompts", P("p.json"), "--output", P("o.safetensors")),
            3, "spiece.model is a character device, not a regular file");

        File.Move(Path.Combine(model, "model_index.json"), P("index.json"));
        File.CreateSymbolicLink(Path.Combine(model, "model_index.json"), "/dev/zero");
        AssertOneLine(T2xProcess.Run("generate", "x", "--model", model, "--dry-run", "--memory-budget", "1"), 3, "model_index.json is a character device, not a regular file");
    }

    [Test]
    public void AFifoInTheModelFolderFailsBeforeTheWorkAndALinkLoopIsWalkedOnce()
    {
        string model = Model(_ => { });
        Directory.CreateSymbolicLink(Path.Combine(model, "transformer", "loop"), "..");
        var r = T2xProcess.Run("generate", "a red circle", "--model", model, "--steps", "2", "--seed", "1", "-o", P("ok.png"));
        Assert.That(r.code, Is.EqualTo(0), r.stderr);
        Assert.That(File.Exists(P("ok.png")));

        MakeFifo(Path.Combine(model, "transformer", "fifo"));
        r = T2xProcess.Run("generate", "a red circle", "--model", model, "--steps", "2", "--seed", "1", "-o", P("no.png"));
        Assert.That(r.code, Is.EqualTo(3), r.stderr);
        Assert.That(r.stderr, Does.EndWith($"t2x generate: {Path.Combine(model, "transformer", "fifo")} is a FIFO, not a regular file\n"));
        Assert.That(r.stderr, Does.Not.Contain("step"), "refused before generating");
    }

    [TestCase("transformer", "num_layers", "num_layers is 1000000000, more than the 1048576")]
    [TestCase("text_encoder", "num_layers", "\"num_layers\" is 1000000000, more than the 1048576")]
    [TestCase("text_encoder", "d_ff", "\"d_ff\" is 1000000000, more than the 1048576")]
    public void HugeConfigDimensionsAreRefusedBeforeAllocating(string part, string key, string message)
    {
        string model = Model(_ => { });
        string path = Path.Combine(model, part, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config[key] = 1_000_000_000;
        File.WriteAllText(path, config.ToJsonString());
        AssertOneLine(T2xProcess.Run("generate", "x", "--model", model, "--dry-run", "--memory-budget", "1"), 3, message);
    }

    [Test]
    public void ControlCharactersFromPromptsAndFilesAreEscaped()
    {
        string model = TestModelFolder.Create(P("model"));
        var r = T2xProcess.Run("generate", "\u001b]0;pwned\u0007a red \u009bcircle", "--model", model, "--steps", "1", "-o", P("o.png"));
        Assert.That(r.code, Is.EqualTo(0), r.stderr);
        Assert.That(r.stderr, Does.Contain("\"\\e]0;pwned\\u0007a red \\u009bcircle\""));
        Assert.That(r.stderr.Any(c => char.IsControl(c) && c is not '\n' and not '\r'), Is.False, "no raw control characters");

        r = T2xProcess.Run("generate", "--from", P("\u001b[2Jmissing.png"));
        Assert.That(r.code, Is.EqualTo(3), r.stderr);
        Assert.That(r.stderr, Does.Contain("\\e[2Jmissing.png").And.Not.Contain("\u001b"));
    }

    [Test]
    public void NonFiniteInputsAndResultsFailInsteadOfWriting()
    {
        string model = TestModelFolder.Create(P("model"));
        string transformer = Path.Combine(model, "transformer");
        SafeTensors.Write(P("in.safetensors"), [("latents", HostTensor.FromFloat32([1f, float.NaN, float.PositiveInfinity], 1, 3, 1, 1, 1))]);
        var r = T2xProcess.Run("forward", "--transformer", transformer, "--inputs", P("in.safetensors"), "--output", P("out.safetensors"));
        AssertOneLine(r, 3, $"{P("in.safetensors")}: 'latents' holds NaN at index 1 (2 of 3 values are not finite)");
        Assert.That(File.Exists(P("out.safetensors")), Is.False);

        // Weights that are all NaN: the image would be black; nothing is written.
        string weights = Path.Combine(transformer, "diffusion_pytorch_model.safetensors");
        List<(string, HostTensor)> nan;
        using (var f = SafeTensors.Open(weights))
            nan = f.Tensors.Select(t => (t.Name, HostTensor.FromFloat32(Enumerable.Repeat(float.NaN, (int)t.Elements).ToArray(), t.Shape).To(t.DType))).ToList();
        SafeTensors.Write(weights, nan, overwrite: true);
        r = T2xProcess.Run("generate", "a red circle", "--model", model, "--steps", "2", "--seed", "1", "-o", P("black.png"));
        Assert.That(r.code, Is.EqualTo(3), r.stderr);
        Assert.That(r.stderr, Does.Contain("t2x generate: the generated image (no file written: are the model's weights or settings broken?) holds NaN at index 0"));
        Assert.That(File.Exists(P("black.png")), Is.False);
    }

    [Test]
    public void ASeedAndCountPastTheLargestSeedAreRefused()
    {
        AssertOneLine(T2xProcess.Run("generate", "x", "--seed", long.MaxValue.ToString(), "--count", "2", "-o", P("out")), 2,
            $"--seed {long.MaxValue} with --count 2 runs past the largest seed");
        AssertOneLine(T2xProcess.Run("generate", "x", "--count", "2000000000", "-o", P("out")), 2, "--count expects an integer from 1 to 100000, got '2000000000'");
    }

    [Test]
    public void DevicesTakesDeviceAsEveryCommandDoes()
    {
        var r = T2xProcess.Run("devices", "--device", "0");
        Assert.That(r.code, Is.EqualTo(0), r.stderr);
        Assert.That(r.stdout, Does.Contain("* [0]").And.Contain("* = chosen by '0'"));
        AssertOneLine(T2xProcess.Run("devices", "--device", "99"), 3, "device 99 does not exist");
    }

    [Test]
    public void InspectAModelFolderListsEachPart()
    {
        var r = T2xProcess.Run("inspect", Model(_ => { }));
        Assert.That(r.code, Is.EqualTo(0), r.stderr);
        Assert.That(r.stdout, Does.Contain("## transformer: ").And.Contain("## text_encoder: ").And.Contain("shared.weight\tF16\t[128, 128]"));
    }

    [Test]
    public void APromptListThatWouldTakeGigabytesOfTokensIsRefused()
    {
        string model = Model(_ => { });
        File.WriteAllText(P("many.json"), "[" + string.Join(",", Enumerable.Repeat("\"\"", 200_000)) + "]");
        AssertOneLine(T2xProcess.Run("tokenize", "--tokenizer", Path.Combine(model, "tokenizer"), "--prompts", P("many.json"), "--max-length", "4096",
            "--output", P("o.safetensors")), 3, "200000 texts × max length 4096 = 819200000 tokens, more than the 16777216 one batch may hold");
    }

    [Test]
    public void ACheckpointListingMillionsOfTensorsIsRefused()
    {
        int n = Checkpoint.MaxTensors + 1;
        var header = Encoding.UTF8.GetBytes("{" + string.Join(",", Enumerable.Range(0, n).Select(i => $"\"t{i}\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}")) + "}");
        using (var f = File.Create(P("many.safetensors")))
        {
            f.Write(BitConverter.GetBytes((ulong)header.Length));
            f.Write(header);
        }
        AssertOneLine(T2xProcess.Run("inspect", P("many.safetensors")), 3, $"not a valid safetensors file: more than {Checkpoint.MaxTensors} tensors");
    }

    [Test]
    public void NoVulkanDriverIsADeviceError()
    {
        var noDriver = new Dictionary<string, string> { ["VK_ICD_FILENAMES"] = "/nonexistent.json", ["VK_DRIVER_FILES"] = "/nonexistent.json" };
        var r = T2xProcess.RunWith(noDriver, "generate", "x", "-o", P("x.png"));
        AssertOneLine(r, 4, "t2x generate: vkCreateInstance failed");
        Assert.That(File.Exists(P("x.png")), Is.False);
    }

    [Test]
    public void LavapipeWithWideVectorsIsRefusedUnlessAllowed()
    {
        Assume.That(Gpu.ListDevices().Any(d => d.Driver == "llvmpipe"), "lavapipe is not installed");
        var wide = new Dictionary<string, string> { ["LP_NATIVE_VECTOR_WIDTH"] = "512", ["T2X_DEVICE"] = "llvmpipe" };
        var r = T2xProcess.RunWith(wide, "generate", "x", "--dry-run");
        AssertOneLine(r, 4, "computes wrong results for this engine's kernels; unset LP_NATIVE_VECTOR_WIDTH");
        wide[Gpu.AllowWideLavapipe] = "1";
        r = T2xProcess.RunWith(wide, "generate", "x", "--dry-run");
        Assert.That(r.code, Is.EqualTo(0), r.stderr);
        Assert.That(r.stdout, Does.Contain("512 bits"), "the override opened the 512-bit device");
    }
}
