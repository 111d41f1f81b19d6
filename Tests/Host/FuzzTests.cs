using System.Diagnostics;
using System.Text;
using System.Text.Json;
using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Text;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Host;

/// <summary>
/// Mutates valid inputs (a t2x PNG, a safetensors file, a torch zip, a spiece.model, a model_index.json) a few thousand
/// times and reads each mutant the way t2x does. Every outcome must be success or an exception that t2x reports as a
/// bad input (Host/Errors: IOException, InvalidDataException, ArgumentException, NotSupportedException, JsonException,
/// UnauthorizedAccessException), never anything else, and the memory one read allocates is measured and bounded.
/// A sample of the mutants also goes through the real CLI: exit code 0, 2 or 3, one line, no stack trace, no temporary
/// file left.
/// </summary>
public class FuzzTests
{
    const int Mutants = 3000;                              // per format, or as many as fit in the time below
    static readonly TimeSpan TimePerFormat = TimeSpan.FromSeconds(20);
    const long MaxAllocatedPerRead = 64L << 20;            // the seeds are a few KiB; a bomb would take far more
    const int CliMutants = 12;                             // per format through the real binary

    string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("t2x-fuzz-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    string P(string name) => Path.Combine(_dir, name);

    static string BuiltinModel => Path.Combine(Path.GetDirectoryName(T2xProcess.Binary)!, "BuiltinModel");

    static bool IsBadInput(Exception e) =>
        e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or NotSupportedException or JsonException;

    static List<(string, HostTensor)> SomeTensors() =>
    [
        ("a.weight", HostTensor.FromFloat32([1, -2, 3.5f, 0, 7, 8], 2, 3)),
        ("a.bias", HostTensor.FromFloat32([0.5f, -0.25f, 1], 3).To(DType.F16)),
        ("b", HostTensor.FromFloat32([1, 2, 3, 4], 4).To(DType.BF16)),
    ];

    /// <summary>The seed file of a format, and how t2x reads it (in this process) and on the command line.</summary>
    (byte[] seed, Action<string> read, Func<string, string[]> cli) Format(string format)
    {
        switch (format)
        {
            case "png":
            {
                var settings = new GenerationSettings { Prompt = "a red circle", Seed = 3, Steps = 2, Width = 64, Height = 64 };
                var rgb = new byte[3 * 64 * 64];
                new Random(1).NextBytes(rgb);
                new PngMetadata(settings, "t2x-builtin-shapes", "0123456789ab", "1.0").Save(P("seed.png"), rgb, 64, 64);
                return (File.ReadAllBytes(P("seed.png")), path => PngMetadata.Read(path),
                    path => ["generate", "--from", path, "--dry-run", "--memory-budget", "1"]);
            }
            case "safetensors" or "torch":
            {
                string path = P("seed." + format);
                if (format == "torch") TorchCheckpoint.Write(path, SomeTensors());
                else SafeTensors.Write(path, SomeTensors(), new Dictionary<string, string> { ["format"] = "pt" });
                return (File.ReadAllBytes(path), ReadCheckpoint, p => ["inspect", p]);
            }
            case "spiece":
            {
                Directory.CreateDirectory(P("tok"));
                File.WriteAllText(P("prompts.json"), "[\"a red circle on the left\", \"\"]");
                return (File.ReadAllBytes(Path.Combine(BuiltinModel, "tokenizer", "spiece.model")),
                    path => new T5Tokenizer(SentencePieceModel.Read(path)).EncodeBatch(["a red circle on the left", ""], 16),
                    path =>
                    {
                        File.Copy(path, P("tok/spiece.model"), overwrite: true);
                        return ["tokenize", "--tokenizer", P("tok"), "--prompts", P("prompts.json"), "--max-length", "16", "--output", P("tokens.safetensors"), "--force"];
                    });
            }
            default:
            {
                foreach (var part in new[] { "transformer", "text_encoder", "tokenizer" }) Directory.CreateDirectory(P("model/" + part));
                return (File.ReadAllBytes(Path.Combine(BuiltinModel, "model_index.json")),
                    path =>
                    {
                        File.Copy(path, P("model/model_index.json"), overwrite: true);
                        ModelFolder.Open(P("model")).Defaults.Validated();
                    },
                    path => ["generate", "x", "--model", Path.GetDirectoryName(path)!, "--dry-run", "--memory-budget", "1"]);
            }
        }
    }

    static void ReadCheckpoint(string path)
    {
        using var source = Checkpoint.Open(path);
        foreach (var t in source.Tensors) source.Read(t.Name);
    }

    [TestCase("png")]
    [TestCase("safetensors")]
    [TestCase("torch")]
    [TestCase("spiece")]
    [TestCase("model_index")]
    public void MutantsGiveCleanErrorsInBoundedMemory(string format)
    {
        var (seed, read, cli) = Format(format);
        read(WriteMutant(seed, "valid"));   // the seed itself reads
        var rng = new Random(TestContext.CurrentContext.Random.Next());
        var clock = Stopwatch.StartNew();
        int done = 0, failed = 0;
        long mostAllocated = 0;
        for (; done < Mutants && clock.Elapsed < TimePerFormat; done++)
        {
            var mutant = Mutate(seed, rng, text: format == "model_index");
            string path = WriteMutant(mutant, "mutant");
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { read(path); }
            catch (Exception e) when (IsBadInput(e)) { failed++; }
            catch (Exception e)
            {
                string kept = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"fuzz-{format}-{done}.bin");
                File.WriteAllBytes(kept, mutant);
                Assert.Fail($"mutant {done} (kept in {kept}) threw {e.GetType().Name}, which t2x would report as an internal error:\n{e}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            mostAllocated = Math.Max(mostAllocated, allocated);
            if (allocated > MaxAllocatedPerRead)
            {
                string kept = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"fuzz-{format}-{done}.bin");
                File.WriteAllBytes(kept, mutant);
                Assert.Fail($"mutant {done} (kept in {kept}, {mutant.Length} bytes) allocated {allocated} bytes reading it");
            }
        }
        TestContext.Out.WriteLine($"{format}: {done} mutants, {failed} refused, {done - failed} read; at most {mostAllocated} bytes allocated by one read");
        Assert.That(done, Is.GreaterThanOrEqualTo(200), "too few mutants in the time");

        for (int i = 0; i < CliMutants; i++)
        {
            string path = WriteMutant(Mutate(seed, rng, text: format == "model_index"), format == "model_index" ? "model/model_index.json" : $"cli-{i}");
            var r = T2xProcess.Run(cli(path));
            Assert.That(r.code, Is.AnyOf(0, 2, 3), r.stderr);
            Assert.That(r.stderr, Does.Not.Contain("   at ").And.Not.Contain("internal error"), r.stderr);
            if (r.code != 0) Assert.That(r.stderr.TrimEnd('\n').Split('\n').Count(l => l.StartsWith("t2x ")), Is.EqualTo(1), r.stderr);
        }
        Assert.That(Directory.GetFiles(_dir, "*" + AtomicFile.TempSuffix, SearchOption.AllDirectories), Is.Empty);
    }

    string WriteMutant(byte[] bytes, string name)
    {
        string path = P(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static readonly uint[] Interesting = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x40000000];
    static readonly string[] JsonValues = ["1e308", "-1", "0", "99999999999", "2000000000", "\"x\"", "null", "[]", "{}", "true", "1.5", "[1]"];

    /// <summary>One to four edits: bit flips, random bytes, interesting 32-bit values (either byte order), truncation,
    /// a range deleted or duplicated; for JSON also a value replaced by one of another type or size.</summary>
    static byte[] Mutate(byte[] seed, Random rng, bool text)
    {
        var b = new List<byte>(seed);
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            int at = rng.Next(b.Count);
            switch (rng.Next(text ? 7 : 6))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = (byte)rng.Next(256); break;
                case 2:
                {
                    uint v = Interesting[rng.Next(Interesting.Length)];
                    var bytes = BitConverter.GetBytes(v);
                    if (rng.Next(2) == 0) Array.Reverse(bytes);
                    for (int i = 0; i < 4 && at + i < b.Count; i++) b[at + i] = bytes[i];
                    break;
                }
                case 3: b.RemoveRange(at, b.Count - at); break;
                case 4: b.RemoveRange(at, Math.Min(b.Count - at, 1 + rng.Next(64))); break;
                case 5:
                {
                    int length = Math.Min(b.Count - at, 1 + rng.Next(256));
                    b.InsertRange(rng.Next(b.Count), b.GetRange(at, length));
                    break;
                }
                default:
                {
                    // Replace the JSON value after a ':' by one of another type or size.
                    string s = Encoding.UTF8.GetString(b.ToArray());
                    int colon = s.IndexOf(':', rng.Next(s.Length));
                    if (colon < 0) break;
                    int end = colon + 1;
                    while (end < s.Length && s[end] is not (',' or '}')) end++;
                    s = s[..(colon + 1)] + JsonValues[rng.Next(JsonValues.Length)] + s[end..];
                    b = [.. Encoding.UTF8.GetBytes(s)];
                    break;
                }
            }
        }
        return b.ToArray();
    }
}
