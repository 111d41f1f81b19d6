using System.Text.Json;
using T2X.Vulkan;

namespace T2X.Benchmarks;

/// <summary>One measured figure: an op name and its fields, printed as a table row or one JSON object per line.</summary>
public sealed class BenchResult(string op)
{
    public readonly Dictionary<string, object> Fields = new() { ["op"] = op };
    public BenchResult With(string key, object value) { Fields[key] = value; return this; }
    public string ToJson() => JsonSerializer.Serialize(Fields);
    public override string ToString() => string.Join("  ", Fields.Select(f => $"{f.Key}={(f.Value is double d ? Format(d) : f.Value)}"));

    /// <summary>Two decimals; values below 0.01 (errors, small times) in scientific notation rather than as 0.</summary>
    static string Format(double d) => d != 0 && Math.Abs(d) < 0.01 ? d.ToString("0.##e+0") : d.ToString("0.##");
}

/// <summary>A benchmark: yields results as it measures them. Registered in <see cref="Benches.All"/>.</summary>
public interface IBench
{
    string Name { get; }
    IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options);
}

/// <summary>Quick: fewer shapes. GemmShape: only this GEMM (m, k, n), e.g. from `--gemm 4096x1152x4608`.
/// TexelRowGroups: the texel GEMM's tile heights (groups of 8 rows) to time against each other in one process, e.g. from
/// `--texel-row-groups 2,3,4`; null: the engine's own.</summary>
public sealed record BenchOptions(bool Quick = false, int Repeats = 5, (int m, int k, int n)? GemmShape = null, int[]? TexelRowGroups = null);

public static class Benches
{
    /// <summary>Every benchmark `t2x bench` knows, by name.</summary>
    public static readonly List<IBench> All = [new GemmBench(), new AttentionBench(), new RowOpsBench(), new KernelsBench(), new AdherenceBench(), new PtDitAttentionBench(), new PtDitBench(), new VaeBench(), new BatchBench()];

    /// <summary>How a GEMM weight is laid out, as bench rows print it: "panels" or "rows".</summary>
    public static string LayoutName(Tensor w) => w.Layout == TensorLayout.GemmPanels ? "panels" : "rows";

    /// <summary>Median of the timings of an action (seconds), after one warm-up call.</summary>
    public static double Median(Action action, int repeats) => Medians([action], repeats)[0];

    /// <summary>Median of the timings of each action (seconds), after one warm-up call each. The actions take turns, so
    /// that a change in the machine's load (a shared machine) hits all of them alike.</summary>
    public static double[] Medians(IReadOnlyList<Action> actions, int repeats)
    {
        foreach (var action in actions) action();
        var times = new double[actions.Count][];
        for (int a = 0; a < actions.Count; a++) times[a] = new double[repeats];
        for (int i = 0; i < repeats; i++)
            for (int a = 0; a < actions.Count; a++)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                actions[a]();
                times[a][i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
            }
        return times.Select(t => t.Order().ElementAt(repeats / 2)).ToArray();
    }
}
