using System.Diagnostics;
using NUnit.Framework;
using T2X.Vulkan.Batch;
using T2X.Vulkan.Imaging;

namespace T2X.Tests.Host;

/// <summary>
/// t2x batch through the real binary with the built-in model (32×32, 2 steps): a list of 30 lines, two of them bad,
/// made by one process one image at a time; by three shard processes in batches, one killed mid-way and rerun, then
/// merged; and by two workers on two logical devices (one lavapipe opened twice) in one process. All three give the
/// same 28 files, byte for byte, and the same manifest.
/// </summary>
[NonParallelizable]
public sealed class BatchCommandTests
{
    string _root = "", _list = "";
    static readonly string[] Common = ["--width", "32", "--height", "32", "--steps", "2", "--seed", "1000"];
    const int BadLine1 = 7, BadLine2 = 19;

    [OneTimeSetUp]
    public void WriteList()
    {
        _root = Path.Combine(Path.GetTempPath(), $"t2x-batch-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_root);
        string[] colors = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black"];
        string[] shapes = ["circle", "square", "triangle"];
        string[] places = ["at the top", "on the left", "in the center", "in the bottom right corner"];
        var lines = new List<string>();
        for (int i = 1; i <= 30; i++)
        {
            string prompt = $"a {colors[i % 8]} {shapes[i % 3]} {places[i % 4]} on a {colors[(i + 3) % 8]} background";
            lines.Add(i switch
            {
                BadLine1 => "{\"prompt\": \"cut short",                                      // not JSON
                BadLine2 => $"{{\"prompt\": \"{prompt}\", \"steps\": 0}}",                      // out of range
                _ when i % 5 == 0 => $"{{\"prompt\": \"{prompt}\", \"seed\": {i * 7}, \"cfg\": 2.5, \"negative_prompt\": \"blurry\"}}",
                _ when i % 7 == 3 => $"{{\"prompt\": \"{prompt}\", \"width\": 48}}",            // another size: its own batches
                _ => $"{{\"prompt\": \"{prompt}\"}}",
            });
        }
        _list = Path.Combine(_root, "prompts.jsonl");
        File.WriteAllLines(_list, lines);
    }

    [OneTimeTearDown]
    public void Remove() { if (Directory.Exists(_root)) Directory.Delete(_root, true); }

    static (int code, string stdout, string stderr) T2x(IReadOnlyDictionary<string, string>? env, params string[] args) =>
        T2xProcess.RunWith(env ?? new Dictionary<string, string>(), args);

    static Dictionary<string, byte[]> Images(string dir) =>
        Directory.GetFiles(dir, "*.png").ToDictionary(f => Path.GetFileName(f)!, File.ReadAllBytes);

    static List<(int, string, string?, long?)> Outcomes(string manifest) =>
        BatchManifest.Latest(BatchManifest.Read(manifest, out _)).Values.OrderBy(r => r.Line).Select(r => (r.Line, r.Status, r.File, r.Seed)).ToList();

    /// <summary>Starts t2x, kills it (the process this test started, by its handle) once its standard error shows
    /// <paramref name="marker"/>; returns its exit code.</summary>
    static int RunAndKill(string marker, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(T2xProcess.Binary);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        var seen = new System.Text.StringBuilder();
        for (string? line; (line = p.StandardError.ReadLine()) is not null;)
        {
            seen.AppendLine(line);
            if (line.Contains(marker)) { p.Kill(entireProcessTree: true); break; }
        }
        if (!p.WaitForExit(120_000)) { p.Kill(true); Assert.Fail("t2x did not end after the kill"); }
        Assert.That(seen.ToString(), Does.Contain(marker), "the run ended before it could be killed mid-way");
        return p.ExitCode;
    }

    [Test]
    public void ShardsKilledAndRerunAndTwoDevicesMakeWhatOneProcessMakes()
    {
        // 1. One process, one image at a time: the reference.
        string single = Path.Combine(_root, "single");
        var run = T2x(null, ["batch", _list, "-o", single, "--batch", "1", .. Common]);
        Assert.That(run.code, Is.EqualTo(0), run.stderr);
        var want = Images(single);
        Assert.That(want, Has.Count.EqualTo(28));
        Assert.That(want.Keys, Does.Contain("000001-a-green-square-on-the-left-on-a-cyan-background.png"));
        Assert.That(run.stderr, Does.Contain($"line {BadLine1}: not a JSON object").And.Contain($"line {BadLine2}: steps must be between 1 and 1000"));
        var outcomes = Outcomes(Path.Combine(single, "manifest.jsonl"));
        Assert.That(outcomes, Has.Count.EqualTo(30));
        Assert.That(outcomes.Where(o => o.Item2 == "error").Select(o => o.Item1), Is.EqualTo(new[] { BadLine1, BadLine2 }));
        // Each PNG carries its request: line 10 has its own seed and cfg, line 2 the base seed + 1.
        var line10 = PngMetadata.Read(Path.Combine(single, want.Keys.Single(k => k.StartsWith("000010-"))));
        Assert.That((line10.Settings.Seed, line10.Settings.Cfg, line10.Settings.Negative, line10.Settings.Steps), Is.EqualTo((70L, 2.5, "blurry", 2)));
        Assert.That(PngMetadata.Read(Path.Combine(single, want.Keys.Single(k => k.StartsWith("000002-")))).Settings.Seed, Is.EqualTo(1001));
        Assert.That(PngMetadata.Read(Path.Combine(single, want.Keys.Single(k => k.StartsWith("000003-")))).Settings.Width, Is.EqualTo(48));

        // 2. Three shards into one folder, in batches: shard 1 killed after its first image, then every shard run again
        //    (shard 1 resumes; shard 0 finds one of its images cut short, as by a failed copy, and remakes it), each
        //    way of naming the shard once: --shard I/N, a Kubernetes Indexed Job, a Slurm job array.
        string sharded = Path.Combine(_root, "sharded");
        Assert.That(T2x(null, ["batch", _list, "-o", sharded, "--shard", "0/3", "--batch", "4", .. Common]).code, Is.EqualTo(0));
        int killed = RunAndKill("] 1/", ["batch", _list, "-o", sharded, "--shard", "1/3", "--batch", "1", .. Common]);
        Assert.That(killed, Is.Not.EqualTo(0));
        int shard1Lines = Enumerable.Range(1, 30).Count(l => (l - 1) % 3 == 1 && l != BadLine1 && l != BadLine2);
        int shard1Made = Directory.GetFiles(sharded, "*.png").Count(f => (int.Parse(Path.GetFileName(f)[..6]) - 1) % 3 == 1);
        Assert.That(shard1Made, Is.InRange(1, shard1Lines - 1), "the killed shard stopped mid-way");
        string cut = Path.Combine(sharded, want.Keys.First(k => (int.Parse(k[..6]) - 1) % 3 == 0));
        File.WriteAllBytes(cut, File.ReadAllBytes(cut)[..100]);
        File.AppendAllText(Path.Combine(sharded, "manifest-shard-0-of-3.jsonl"), "{\"line\": 4, \"sta");
        // What a kill in the middle of writing an image leaves (a hidden temporary file), for a line of the killed shard.
        string unmade = want.Keys.Where(k => (int.Parse(k[..6]) - 1) % 3 == 1).First(k => !File.Exists(Path.Combine(sharded, k)));
        File.WriteAllBytes(Path.Combine(sharded, $".{unmade}.0123456789abcdef0123456789abcdef.t2x-tmp"), [1, 2, 3]);

        var slurm = new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "2", ["SLURM_ARRAY_TASK_COUNT"] = "3" };
        var k8s = new Dictionary<string, string> { ["JOB_COMPLETION_INDEX"] = "1" };
        var r2 = T2x(slurm, ["batch", _list, "-o", sharded, "--shard", "auto", "--batch", "8", .. Common]);
        Assert.That(r2.code, Is.EqualTo(0), r2.stderr);
        Assert.That(r2.stderr, Does.Contain("shard 2/3"));
        var r1 = T2x(k8s, ["batch", _list, "-o", sharded, "--shard", "auto", "--shards", "3", "--batch", "2", .. Common]);
        Assert.That(r1.code, Is.EqualTo(0), r1.stderr);
        Assert.That(r1.stderr, Does.Contain($"{shard1Made} already there"));
        var r0 = T2x(null, ["batch", _list, "-o", sharded, "--shard", "0/3", .. Common]);
        Assert.That(r0.code, Is.EqualTo(0), r0.stderr);
        Assert.That(r0.stderr, Does.Contain("1 images made"), "only the cut-short image is made again");

        var merge = T2x(null, "batch", "--merge", sharded);
        Assert.That(merge.code, Is.EqualTo(0), merge.stderr);
        Assert.That(merge.stdout, Does.Contain("28 images, 2 errors from 3 shard manifests"));
        var got = Images(sharded);
        Assert.That(got.Keys.Order(), Is.EqualTo(want.Keys.Order()));
        foreach (var (name, bytes) in want) Assert.That(got[name], Is.EqualTo(bytes), $"{name}: sharded and batched differs from one at a time");
        Assert.That(Outcomes(Path.Combine(sharded, "manifest.jsonl")), Is.EqualTo(outcomes));
        Assert.That(Directory.GetFiles(sharded, ".*"), Is.Empty, "no temporary file is left behind");

        // 3. Two workers on two logical devices (device 0 opened twice) sharing one queue.
        string devices = Path.Combine(_root, "devices");
        var rd = T2x(null, ["batch", _list, "-o", devices, "--devices", "0,0", "--batch", "3", .. Common]);
        Assert.That(rd.code, Is.EqualTo(0), rd.stderr);
        Assert.That(rd.stderr, Does.Contain("worker 0: [0]").And.Contain("worker 1: [0]"));
        got = Images(devices);
        Assert.That(got.Keys.Order(), Is.EqualTo(want.Keys.Order()));
        foreach (var (name, bytes) in want) Assert.That(got[name], Is.EqualTo(bytes), $"{name}: two devices differ from one");
        var records = BatchManifest.Read(Path.Combine(devices, "manifest.jsonl"), out _);
        Assert.That(records.Where(r => r.IsOk).Select(r => r.Worker).Distinct().Order(), Is.EqualTo(new int?[] { 0, 1 }), "both workers made images");
        Assert.That(Outcomes(Path.Combine(devices, "manifest.jsonl")), Is.EqualTo(outcomes));
    }

    [Test]
    public void ImagesMadeWithOtherSettingsAreKeptUnlessForced()
    {
        string dir = Path.Combine(_root, "other");
        string list = Path.Combine(_root, "two.txt");
        File.WriteAllText(list, "a red circle in the center\na blue square at the top\n");
        Assert.That(T2x(null, ["batch", list, "-o", dir, .. Common]).code, Is.EqualTo(0));
        var before = Images(dir);
        var again = T2x(null, ["batch", list, "-o", dir, .. Common[..^2], "--seed", "5"]);
        Assert.That(again.code, Is.EqualTo(0), again.stderr);
        Assert.That(again.stderr, Does.Contain("line 1: 000001-a-red-circle-in-the-center.png exists and was made with seed 1000, not 5"));
        Assert.That(Images(dir), Is.EqualTo(before), "nothing was replaced");
        var forced = T2x(null, ["batch", list, "-o", dir, .. Common[..^2], "--seed", "5", "--force"]);
        Assert.That(forced.code, Is.EqualTo(0), forced.stderr);
        Assert.That(PngMetadata.Read(Path.Combine(dir, "000002-a-blue-square-at-the-top.png")).Settings.Seed, Is.EqualTo(6));
    }

    [TestCase(new[] { "batch" }, "no prompt list")]
    [TestCase(new[] { "batch", "x.txt" }, "--output DIR is required")]
    [TestCase(new[] { "batch", "x.txt", "-o", "d", "--batch", "0" }, "--batch expects a number")]
    [TestCase(new[] { "batch", "x.txt", "-o", "d", "--shard", "3/3" }, "from 0 to 2")]
    [TestCase(new[] { "batch", "x.txt", "-o", "d", "--shard", "auto" }, "JOB_COMPLETION_INDEX")]
    [TestCase(new[] { "batch", "x.txt", "-o", "d", "--shards", "3" }, "--shard auto")]
    [TestCase(new[] { "batch", "x.txt", "-o", "d", "--devices", "0,,0" }, "empty entry")]
    [TestCase(new[] { "batch", "x.txt", "-o", "d", "--devices", "no-such-gpu" }, "no device matches")]
    [TestCase(new[] { "batch", "x.txt", "-o", "d", "--devices", "0", "--device", "0" }, "not both")]
    public void BadCommandLinesAreUsageErrors(string[] args, string message)
    {
        var (code, _, stderr) = T2xProcess.RunWith(new Dictionary<string, string>(), args);
        Assert.That((code, stderr), Is.EqualTo((2, stderr)));
        Assert.That(stderr, Does.Contain(message));
    }

    /// <summary>The sbatch script of the README runs as a Slurm array task would (task 1 of an array 0-1).</summary>
    [Test]
    public void SlurmScriptRunsItsShard()
    {
        string list = Path.Combine(_root, "slurm.txt"), output = Path.Combine(_root, "slurm-out");
        File.WriteAllLines(list, ["a red circle in the center", "a blue square at the top", "a green triangle on the left"]);
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(T2X.Tests.Weights.WeightFiles.RepoRoot(), "Tools", "cluster", "slurm-array.sbatch"));
        psi.Environment["T2X"] = $"dotnet {T2xProcess.Binary}";
        psi.Environment["MODEL"] = Path.Combine(T2X.Tests.Weights.WeightFiles.RepoRoot(), "Host", "BuiltinModel");
        psi.Environment["PROMPTS"] = list;
        psi.Environment["OUT"] = output;
        psi.Environment["SLURM_ARRAY_TASK_ID"] = "1";
        psi.Environment["SLURM_ARRAY_TASK_MIN"] = "0";
        psi.Environment["SLURM_ARRAY_TASK_COUNT"] = "2";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        Assert.That(p.WaitForExit(300_000), Is.True);
        Assert.That(p.ExitCode, Is.EqualTo(0), stderr.Result);
        Assert.That(Directory.GetFiles(output, "*.png").Select(Path.GetFileName), Is.EqualTo(new[] { "000002-a-blue-square-at-the-top.png" }));
        Assert.That(File.Exists(Path.Combine(output, "manifest-shard-1-of-2.jsonl")), Is.True);
    }

    [Test]
    public void DevicesCommandShowsTheWorkers()
    {
        var (code, stdout, stderr) = T2xProcess.Run("devices", "--devices", "0,0");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("t2x batch --devices 0,0: 2 workers").And.Contain("worker 0: [0]").And.Contain("worker 1: [0]"));
        var all = T2xProcess.Run("devices", "--devices", "all");
        Assert.That(all.stdout, Does.Contain("worker 0: [0]"));
    }

    [Test]
    public void MissingListIsABadInput()
    {
        var (code, _, stderr) = T2xProcess.Run("batch", Path.Combine(_root, "none.txt"), "-o", Path.Combine(_root, "none"));
        Assert.That(code, Is.EqualTo(3), stderr);
        Assert.That(stderr, Does.Contain("none.txt does not exist"));
    }
}
