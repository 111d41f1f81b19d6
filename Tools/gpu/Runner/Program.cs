using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework.Api;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan;
using T2X.Vulkan.Weights;

namespace T2X.GpuRunner;

/// <summary>
/// The test runner and case writer of Tools/gpu/proof.sh, for a machine without the .NET SDK:
///   t2x-gpu-runner test [--match REGEX] [--xml FILE] [--json FILE]
///     runs the NUnit tests of T2X.Vulkan.Tests whose full name matches REGEX (explicit tests stay out) with NUnit's own
///     NUnitTestAssemblyRunner, prints one line per finished test, writes NUnit 3 XML and a JSON summary; exit 1 on a failure.
///   t2x-gpu-runner sample-case DIR [--layers N] [--text L]
///     writes DIR/transformer (config.json + model.safetensors: the released PT-DiT config with N layers (default 28),
///     every weight random, bf16) and DIR/inputs.safetensors (cond/uncond embeddings [1, L, 4096], default L 200, masks)
///     for `t2x sample --transformer DIR/transformer --inputs DIR/inputs.safetensors`.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0) { Console.Error.WriteLine("usage: t2x-gpu-runner test [--match REGEX] [--xml FILE] [--json FILE] | sample-case DIR [--layers N] [--text L]"); return 2; }
        string? Opt(string name) { int i = Array.IndexOf(args, "--" + name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        return args[0] switch
        {
            "test" => Test(Opt("match"), Opt("xml"), Opt("json")),
            "sample-case" => SampleCase(args[1], int.Parse(Opt("layers") ?? "28"), int.Parse(Opt("text") ?? "200")),
            _ => 2,
        };
    }

    static int Test(string? match, string? xml, string? json)
    {
        var runner = new NUnitTestAssemblyRunner(new DefaultTestAssemblyBuilder());
        var assembly = typeof(T2X.Tests.GpuTest).Assembly;
        runner.Load(assembly, new Dictionary<string, object>());
        var listener = new Listener();
        var clock = Stopwatch.StartNew();
        var result = runner.Run(listener, new NameFilter(match is null ? null : new System.Text.RegularExpressions.Regex(match)));
        double seconds = clock.Elapsed.TotalSeconds;
        if (xml is not null) File.WriteAllText(xml, result.ToXml(true).OuterXml);
        var summary = new Dictionary<string, object?>
        {
            ["match"] = match, ["passed"] = result.PassCount, ["failed"] = result.FailCount, ["skipped"] = result.SkipCount,
            ["inconclusive"] = result.InconclusiveCount, ["warnings"] = result.WarningCount, ["seconds"] = Math.Round(seconds, 1),
            ["failures"] = listener.Failures, ["slowest"] = listener.Times.OrderByDescending(t => t.Value).Take(15)
                .ToDictionary(t => t.Key, t => Math.Round(t.Value, 2)),
        };
        if (json is not null) File.WriteAllText(json, JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"tests: {result.PassCount} passed, {result.FailCount} failed, {result.SkipCount} skipped, {result.InconclusiveCount} inconclusive in {seconds:F0} s");
        return result.FailCount == 0 && result.PassCount > 0 ? 0 : 1;
    }

    /// <summary>Tests whose full name matches; never an [Explicit] test or one inside an [Explicit] fixture (a name
    /// pattern would otherwise select them explicitly, as `dotnet test --filter` does).</summary>
    sealed class NameFilter(System.Text.RegularExpressions.Regex? pattern) : TestFilter
    {
        public override bool Match(ITest test)
        {
            for (var t = test; t is not null; t = t.Parent)
                if (t.RunState == RunState.Explicit) return false;
            return pattern is null || pattern.IsMatch(test.FullName);   // a matching fixture selects its tests
        }

        public override TNode AddToXml(TNode parentNode, bool recursive) =>
            parentNode.AddElement("test", pattern?.ToString() ?? ".*");
    }

    sealed class Listener : ITestListener
    {
        public readonly List<Dictionary<string, string>> Failures = [];
        public readonly Dictionary<string, double> Times = [];
        public void TestStarted(ITest test) { }
        public void TestFinished(ITestResult r)
        {
            if (r.Test.IsSuite) return;
            Times[r.FullName] = r.Duration;
            string status = r.ResultState.Status.ToString().ToLowerInvariant();
            Console.WriteLine($"{status,-12} {r.Duration,7:F2}s {r.FullName}");
            if (r.ResultState.Status == TestStatus.Failed)
            {
                Console.WriteLine("  " + r.Message?.Replace("\n", "\n  "));
                Failures.Add(new() { ["test"] = r.FullName, ["message"] = r.Message ?? "", ["stack"] = r.StackTrace ?? "" });
            }
        }
        public void TestOutput(TestOutput output) => Console.Write(output.Text);
        public void SendMessage(TestMessage message) { }
    }

    static int SampleCase(string dir, int layers, int textLength)
    {
        var clock = Stopwatch.StartNew();
        var config = PtDitConfig.Released with { NumLayers = layers };
        string transformer = Path.Combine(dir, "transformer");
        Directory.CreateDirectory(transformer);
        File.WriteAllText(Path.Combine(transformer, "config.json"), "{\"predictor\": " + config.ToJson() + "}");
        var weights = PtDitRandomCheckpoint.Create(config, 7, DType.BF16);
        SafeTensors.Write(Path.Combine(transformer, "model.safetensors"), weights.Select(kv => (kv.Key, kv.Value)));
        long n = (long)textLength * config.CaptionChannels;
        var cond = Randn(new Random(11), n);
        var uncond = Randn(new Random(12), n);
        float[] condMask = [.. Enumerable.Range(0, textLength).Select(j => j < textLength / 2 ? 1f : 0f)];
        float[] uncondMask = [.. Enumerable.Range(0, textLength).Select(j => j < 1 ? 1f : 0f)];
        SafeTensors.Write(Path.Combine(dir, "inputs.safetensors"), [
            ("cond_embeds", HostTensor.FromFloat32(cond, 1, textLength, config.CaptionChannels)),
            ("cond_mask", HostTensor.FromFloat32(condMask, 1, textLength)),
            ("uncond_embeds", HostTensor.FromFloat32(uncond, 1, textLength, config.CaptionChannels)),
            ("uncond_mask", HostTensor.FromFloat32(uncondMask, 1, textLength))]);
        Console.WriteLine($"sample case: {layers} layers, text {textLength}, {weights.Count} tensors bf16, written to {dir} in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    static float[] Randn(Random rng, long n)
    {
        var v = new float[n];
        for (long i = 0; i < n; i++) v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return v;
    }
}
