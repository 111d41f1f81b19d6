using System.Globalization;

namespace T2X.Vulkan.Batch;

/// <summary>
/// Which part of a prompt list one process makes: shard <see cref="Index"/> of <see cref="Count"/> takes the lines whose
/// number L has (L − 1) mod Count = Index. Shards of one list write into one shared output folder without clashing:
/// each writes only its own lines' images and its own manifest.
/// </summary>
public readonly record struct Shard(int Index, int Count)
{
    /// <summary>The whole list in one process.</summary>
    public static readonly Shard All = new(0, 1);

    public bool IsWhole => Count == 1;

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>The manifest this shard appends to: <c>manifest.jsonl</c> for a whole list, else
    /// <c>manifest-shard-I-of-N.jsonl</c> (merged into manifest.jsonl by <c>t2x batch --merge</c>).</summary>
    public string ManifestName => IsWhole ? "manifest.jsonl" : $"manifest-shard-{Index}-of-{Count}.jsonl";

    /// <summary>The most shards a list may be split into.</summary>
    public const int MaxCount = 1_000_000;

    /// <summary>"I/N" with 0 ≤ I &lt; N.</summary>
    public static Shard Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            return Make(i, n, $"--shard {text}");
        throw new ArgumentException($"--shard expects I/N (shard I of N, counted from 0, e.g. 0/4) or auto, got '{text}'");
    }

    static Shard Make(int index, int count, string source)
    {
        if (count < 1 || count > MaxCount) throw new ArgumentException($"{source}: the shard count must be from 1 to {MaxCount}, got {count}");
        if (index < 0 || index >= count) throw new ArgumentException($"{source}: the shard index must be from 0 to {count - 1} (counted from 0), got {index}");
        return new Shard(index, count);
    }

    /// <summary>
    /// The shard a cluster scheduler gave this process, from its environment:
    /// a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX (the count comes from <paramref name="count"/>, i.e.
    /// <c>--shards N</c>, or T2X_SHARDS: set it to the Job's completions); a Slurm job array sets SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT (the index counts from SLURM_ARRAY_TASK_MIN, so --array=1-8 works as well as 0-7).
    /// </summary>
    public static Shard FromEnvironment(Func<string, string?> env, int? count = null)
    {
        int? Number(string name)
        {
            var v = env(name);
            if (string.IsNullOrWhiteSpace(v)) return null;
            return int.TryParse(v.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n
                : throw new ArgumentException($"--shard auto: {name}='{v}' is not a whole number");
        }
        if (Number("JOB_COMPLETION_INDEX") is { } k8s)
        {
            int n = count ?? Number("T2X_SHARDS")
                ?? throw new ArgumentException("--shard auto: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) gives the index but not the count: " +
                                               "pass --shards N or set T2X_SHARDS to the Job's completions");
            return Make(k8s, n, $"--shard auto (JOB_COMPLETION_INDEX={k8s}, {n} shards)");
        }
        if (Number("SLURM_ARRAY_TASK_ID") is { } task)
        {
            int min = Number("SLURM_ARRAY_TASK_MIN") ?? 0;
            int n = count ?? Number("SLURM_ARRAY_TASK_COUNT")
                ?? throw new ArgumentException("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: pass --shards N");
            var shard = Make(task - min, n, $"--shard auto (SLURM_ARRAY_TASK_ID={task}, SLURM_ARRAY_TASK_MIN={min}, {n} shards)");
            if (Number("SLURM_ARRAY_TASK_STEP") is { } step && step != 1)
                throw new ArgumentException($"--shard auto: the Slurm array has step {step}; use a contiguous array such as --array=0-{n - 1}");
            return shard;
        }
        throw new ArgumentException("--shard auto: neither JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (a Slurm job array) is set; " +
                                    "give the shard as --shard I/N");
    }
}
