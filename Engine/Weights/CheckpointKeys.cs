namespace T2X.Vulkan.Weights;

/// <summary>How a checkpoint's tensor names and shapes differ from what a model expects.</summary>
public sealed record KeyMismatch(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<(string name, long[] got, long[] expected)> WrongShape)
{
    public bool IsEmpty => Missing.Count == 0 && Unexpected.Count == 0 && WrongShape.Count == 0;
}

/// <summary>Checks a checkpoint's names and shapes against a model's expectations, reporting every problem by name at once.</summary>
public static class CheckpointKeys
{
    /// <summary>Compares without throwing. Names in <paramref name="optional"/> may be absent (a buffer such as
    /// <c>pos_embed.pos_embed</c>); if present, their shape is still checked.</summary>
    public static KeyMismatch Compare(IReadOnlyList<TensorInfo> found, IEnumerable<(string name, long[] shape)> expected, IEnumerable<string>? optional = null)
    {
        var have = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        foreach (var t in found) have.TryAdd(t.Name, t);
        var optionalSet = new HashSet<string>(optional ?? [], StringComparer.Ordinal);
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        var wrong = new List<(string, long[], long[])>();
        foreach (var (name, shape) in expected)
        {
            wanted.Add(name);
            if (!have.TryGetValue(name, out var t)) { if (!optionalSet.Contains(name)) missing.Add(name); }
            else if (!t.Shape.SequenceEqual(shape)) wrong.Add((name, t.Shape, shape));
        }
        var unexpected = found.Select(t => t.Name).Where(n => !wanted.Contains(n)).ToList();
        return new KeyMismatch(missing, unexpected, wrong);
    }

    /// <summary>Throws one InvalidDataException naming every missing key, wrong shape and (unless allowed, as the
    /// official loader's strict=False allows them) unexpected key.</summary>
    public static void Verify(ITensorSource source, IEnumerable<(string name, long[] shape)> expected, IEnumerable<string>? optional = null,
        bool allowUnexpected = false, string what = "checkpoint")
    {
        if (Describe(Compare(source.Tensors, expected, optional), allowUnexpected) is { } problems)
            throw new InvalidDataException($"{what} does not match the model: {problems}");
    }

    /// <summary>Every missing key, wrong shape and (unless allowed) unexpected key in one line; null when they match.</summary>
    public static string? Describe(KeyMismatch m, bool allowUnexpected = false, int max = 50)
    {
        var parts = new List<string>();
        if (m.Missing.Count > 0) parts.Add($"{m.Missing.Count} missing: {List(m.Missing, max)}");
        if (m.WrongShape.Count > 0)
            parts.Add($"{m.WrongShape.Count} with the wrong shape: {List(m.WrongShape.Select(w => $"{w.name} is [{string.Join(",", w.got)}], expected [{string.Join(",", w.expected)}]").ToList(), max)}");
        if (!allowUnexpected && m.Unexpected.Count > 0) parts.Add($"{m.Unexpected.Count} unexpected: {List(m.Unexpected, max)}");
        return parts.Count > 0 ? string.Join("; ", parts) : null;
    }

    public static string List(IReadOnlyList<string> names, int max = 50)
        => string.Join(", ", names.Take(max)) + (names.Count > max ? $", ... ({names.Count - max} more)" : "");
}
