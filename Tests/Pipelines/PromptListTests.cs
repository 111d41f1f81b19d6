using System.Text;
using NUnit.Framework;
using T2X.Vulkan.Batch;
using T2X.Vulkan.Pipelines;

namespace T2X.Tests.Pipelines;

/// <summary>Prompt lists, shards and the manifest of t2x batch (Engine/Batch), without a device.</summary>
public sealed class PromptListTests
{
    string _dir = "";

    [SetUp]
    public void MakeFolder() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), $"t2x-prompts-{Guid.NewGuid():N}"));

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, true);

    static readonly GenerationSettings Defaults = new() { Steps = 2, Cfg = 4, Width = 64, Height = 64, Negative = "neg" };

    string Write(string name, string text) { var p = Path.Combine(_dir, name); File.WriteAllBytes(p, Encoding.UTF8.GetBytes(text)); return p; }

    [Test]
    public void TextListNumbersEveryLineAndSeedsFromTheBase()
    {
        var lines = PromptList.Read(Write("p.txt", "\uFEFFa red circle\r\n\n  A Blue Square!  \nbad \u001b[2J escape\n"), Defaults, 100);
        Assert.That(lines.Select(l => l.Line), Is.EqualTo(new[] { 1, 3, 4 }), "blank lines are no requests but keep their numbers");
        Assert.That(lines[0].Request, Is.EqualTo(Defaults with { Prompt = "a red circle", Seed = 100 }));
        Assert.That(lines[1].Request, Is.EqualTo(Defaults with { Prompt = "A Blue Square!", Seed = 102 }));
        Assert.That(lines[1].FileName, Is.EqualTo("000003-a-blue-square.png"));
        Assert.That((lines[2].Request, lines[2].Error), Is.EqualTo(((GenerationSettings?)null, "the prompt holds the control character U+001B")));
        Assert.That(lines[2].FileName, Is.Null);
    }

    [Test]
    public void JsonLinesTakeGeneratesFieldsAndReportEachBadLine()
    {
        string text = string.Join("\n",
            """{"prompt": "a red circle", "seed": 7, "steps": 3, "cfg": 2.5, "width": 32, "height": 48, "negative_prompt": "x"}""",
            """{"prompt": "defaults"}""",
            """{"prompt": "cut""",
            """{"prompt": "p", "colour": "red"}""",
            """{"prompt": "p", "steps": 0}""",
            """{"prompt": "p", "seed": 1.5}""",
            """{"negative_prompt": "no prompt"}""",
            """["prompt"]""",
            """{"prompt": "p", "frames": 5}""",
            """{"prompt": "p", "width": 24}""") + "\n";
        var lines = PromptList.Read(Write("p.jsonl", text), Defaults, 0,
            s => { if (s.Width % 16 != 0) throw new ArgumentException($"width {s.Width} is not a multiple of 16"); });
        Assert.That(lines, Has.Count.EqualTo(10));
        Assert.That(lines[0].Request, Is.EqualTo(Defaults with { Prompt = "a red circle", Seed = 7, Steps = 3, Cfg = 2.5, Width = 32, Height = 48, Negative = "x" }));
        Assert.That(lines[1].Request, Is.EqualTo(Defaults with { Prompt = "defaults", Seed = 1 }));
        string[] errors =
        [
            "not a JSON object", "unknown field \"colour\"", "steps must be between 1 and 1000", "\"seed\" must be an integer, got 1.5",
            "\"prompt\" must be given as a string", "expected a JSON object", "still images", "width 24 is not a multiple of 16",
        ];
        for (int i = 0; i < errors.Length; i++)
        {
            Assert.That(lines[i + 2].Request, Is.Null, $"line {i + 3}");
            Assert.That(lines[i + 2].Error, Does.Contain(errors[i]), $"line {i + 3}");
        }
    }

    [Test]
    public void InvalidUtf8IsABadLineNotAFailure()
    {
        var p = Path.Combine(_dir, "p.txt");
        File.WriteAllBytes(p, [.. "ok\n"u8.ToArray(), 0xC3, 0x28, (byte)'\n', .. "also ok"u8.ToArray()]);
        var lines = PromptList.Read(p, Defaults, 0);
        Assert.That(lines.Select(l => (l.Line, l.Request?.Prompt, l.Error)), Is.EqualTo(new (int, string?, string?)[]
            { (1, "ok", null), (2, null, "the line is not valid UTF-8 text"), (3, "also ok", null) }));
    }

    [Test]
    public void RefusesOtherFileKinds() =>
        Assert.That(Assert.Throws<ArgumentException>(() => PromptList.Read(Write("p.csv", "a"), Defaults, 0))!.Message, Does.Contain(".txt").And.Contain(".jsonl"));

    [Test]
    public void ShardsPartitionTheLines()
    {
        var lines = PromptList.Read(Write("p.txt", string.Join("\n", Enumerable.Range(1, 10).Select(i => $"prompt {i}"))), Defaults, 0);
        var shards = Enumerable.Range(0, 3).Select(i => PromptList.Select(lines, new Shard(i, 3)).Select(l => l.Line).ToArray()).ToArray();
        Assert.That(shards[0], Is.EqualTo(new[] { 1, 4, 7, 10 }));
        Assert.That(shards[1], Is.EqualTo(new[] { 2, 5, 8 }));
        Assert.That(shards.SelectMany(s => s).Order(), Is.EqualTo(Enumerable.Range(1, 10)));
    }

    [Test]
    public void ShardFromTheCommandLineAndFromClusterSchedulers()
    {
        Assert.That(Shard.Parse("2/5"), Is.EqualTo(new Shard(2, 5)));
        foreach (var bad in new[] { "5/5", "-1/3", "1", "a/b", "1/0", "1/2/3" })
            Assert.Throws<ArgumentException>(() => Shard.Parse(bad), bad);

        Func<string, string?> Env(params (string k, string v)[] vars) => name => vars.FirstOrDefault(v => v.k == name).v;
        // Kubernetes Indexed Job: the index from JOB_COMPLETION_INDEX, the count from --shards or T2X_SHARDS.
        Assert.That(Shard.FromEnvironment(Env(("JOB_COMPLETION_INDEX", "3")), 4), Is.EqualTo(new Shard(3, 4)));
        Assert.That(Shard.FromEnvironment(Env(("JOB_COMPLETION_INDEX", "0"), ("T2X_SHARDS", "2"))), Is.EqualTo(new Shard(0, 2)));
        Assert.That(Assert.Throws<ArgumentException>(() => Shard.FromEnvironment(Env(("JOB_COMPLETION_INDEX", "0"))))!.Message, Does.Contain("--shards"));
        Assert.That(Assert.Throws<ArgumentException>(() => Shard.FromEnvironment(Env(("JOB_COMPLETION_INDEX", "4")), 4))!.Message, Does.Contain("from 0 to 3"));
        // Slurm job array: SLURM_ARRAY_TASK_ID counted from SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT.
        Assert.That(Shard.FromEnvironment(Env(("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "3"))), Is.EqualTo(new Shard(2, 3)));
        Assert.That(Shard.FromEnvironment(Env(("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "8"))), Is.EqualTo(new Shard(0, 8)));
        Assert.That(Assert.Throws<ArgumentException>(() => Shard.FromEnvironment(Env(("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "3"), ("SLURM_ARRAY_TASK_STEP", "2"))))!.Message,
            Does.Contain("contiguous"));
        Assert.That(Assert.Throws<ArgumentException>(() => Shard.FromEnvironment(Env()))!.Message, Does.Contain("JOB_COMPLETION_INDEX").And.Contain("SLURM_ARRAY_TASK_ID"));
        Assert.That(new Shard(1, 3).ManifestName, Is.EqualTo("manifest-shard-1-of-3.jsonl"));
        Assert.That(Shard.All.ManifestName, Is.EqualTo("manifest.jsonl"));
    }

    [Test]
    public void ManifestSurvivesALineCutShortByAKill()
    {
        string path = Path.Combine(_dir, "manifest.jsonl");
        var manifest = new BatchManifest(path);
        var t = DateTimeOffset.UtcNow;
        manifest.Append(new ManifestRecord(1, ManifestRecord.Ok, t, "000001-a.png", 0, 1.5, "[0] dev", 0));
        File.AppendAllText(path, """{"line":2,"status":"ok","fi""");   // what a kill in the middle of a write leaves
        manifest.Append(new ManifestRecord(3, ManifestRecord.Failed, t, Error: "bad \"line\"\nwith a newline"));
        manifest.Append(new ManifestRecord(1, ManifestRecord.Failed, t.AddSeconds(1), Error: "later"));
        var records = BatchManifest.Read(path, out int skipped);
        Assert.That(skipped, Is.EqualTo(1));
        Assert.That(records.Select(r => r.Line), Is.EqualTo(new[] { 1, 3, 1 }));
        Assert.That(records[0], Is.EqualTo(new ManifestRecord(1, ManifestRecord.Ok, records[0].Time, "000001-a.png", 0, 1.5, "[0] dev", 0)));
        Assert.That(records[1].Error, Is.EqualTo("bad \"line\"\nwith a newline"));
        Assert.That(BatchManifest.Latest(records)[1].Error, Is.EqualTo("later"));
    }

    [Test]
    public void MergeKeepsTheLatestRecordOfEachLineAndNamesMissingShards()
    {
        var t = DateTimeOffset.UtcNow;
        new BatchManifest(Path.Combine(_dir, "manifest-shard-0-of-3.jsonl")).Append(new ManifestRecord(1, ManifestRecord.Failed, t, Error: "first try"));
        new BatchManifest(Path.Combine(_dir, "manifest-shard-0-of-3.jsonl")).Append(new ManifestRecord(1, ManifestRecord.Ok, t.AddSeconds(2), "000001-a.png", 0));
        new BatchManifest(Path.Combine(_dir, "manifest-shard-2-of-3.jsonl")).Append(new ManifestRecord(3, ManifestRecord.Failed, t, Error: "bad"));
        var result = BatchManifest.Merge(_dir);
        Assert.That((result.Manifests, result.Images, result.Errors), Is.EqualTo((2, 1, 1)));
        Assert.That(result.MissingShards, Is.EqualTo(new[] { "1/3" }));
        var merged = BatchManifest.Read(Path.Combine(_dir, "manifest.jsonl"), out _);
        Assert.That(merged.Select(r => (r.Line, r.Status)), Is.EqualTo(new[] { (1, "ok"), (3, "error") }));
        Assert.Throws<DirectoryNotFoundException>(() => BatchManifest.Merge(_dir + "-none"));
        string empty = Path.Combine(_dir, "empty");
        Directory.CreateDirectory(empty);
        Assert.That(Assert.Throws<FileNotFoundException>(() => BatchManifest.Merge(empty))!.Message, Does.Contain("no shard manifests"));
    }
}
