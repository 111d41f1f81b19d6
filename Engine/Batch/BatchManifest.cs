using System.Globalization;
using System.Text;
using System.Text.Json;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Batch;

/// <summary>What became of one line of a prompt list: an image (<see cref="File"/>, its seed and the seconds it took)
/// or an error. <see cref="Seconds"/> is null for an image found already made by an earlier run.</summary>
public sealed record ManifestRecord(int Line, string Status, DateTimeOffset Time, string? File = null, long? Seed = null,
    double? Seconds = null, string? Device = null, int? Worker = null, string? Shard = null, string? Error = null)
{
    public const string Ok = "ok", Failed = "error";
    public bool IsOk => Status == Ok;

    /// <summary>One JSON object on one line (no newline inside: JSON escapes every control character).</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        // Readable text (quotes and non-ASCII as they are); control characters are still escaped, so a record is one line.
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("line", Line);
            w.WriteString("status", Status);
            if (File is not null) w.WriteString("file", File);
            if (Seed is { } seed) w.WriteNumber("seed", seed);
            if (Seconds is { } s) w.WriteNumber("seconds", Math.Round(s, 3));
            w.WriteString("time", Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            if (Device is not null) w.WriteString("device", Device);
            if (Worker is { } worker) w.WriteNumber("worker", worker);
            if (Shard is not null) w.WriteString("shard", Shard);
            if (Error is not null) w.WriteString("error", Error);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Parses one manifest line; null when it is not a complete record (a line cut short by a kill).</summary>
    public static ManifestRecord? FromJson(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var o = doc.RootElement;
            if (o.ValueKind != JsonValueKind.Object) return null;
            string? Str(string name) => o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            if (!o.TryGetProperty("line", out var l) || !l.TryGetInt32(out int number) || Str("status") is not { } status || Str("time") is not { } time)
                return null;
            if (!DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when)) return null;
            return new ManifestRecord(number, status, when, Str("file"),
                o.TryGetProperty("seed", out var s) && s.TryGetInt64(out long seed) ? seed : null,
                o.TryGetProperty("seconds", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetDouble() : null,
                Str("device"), o.TryGetProperty("worker", out var k) && k.TryGetInt32(out int worker) ? worker : null, Str("shard"), Str("error"));
        }
        catch (JsonException) { return null; }
    }
}

/// <summary>
/// <c>DIR/manifest.jsonl</c> (or a shard's <c>manifest-shard-I-of-N.jsonl</c>): one JSON record per line, appended as
/// each line of the prompt list finishes, so a killed run leaves every finished record in place. Each append is one
/// write of a whole line, flushed to disk; should a kill cut one short, the next append starts on a fresh line and
/// readers skip the cut one, so resume never breaks. Later records of a line supersede earlier ones.
/// </summary>
public sealed class BatchManifest(string path)
{
    public string Path { get; } = path;
    readonly object _lock = new();

    public void Append(ManifestRecord record)
    {
        var bytes = Encoding.UTF8.GetBytes(record.ToJson() + "\n");
        lock (_lock)
        {
            using var f = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
            if (f.Length > 0)
            {
                f.Seek(-1, SeekOrigin.End);
                if (f.ReadByte() != '\n') bytes = [(byte)'\n', .. bytes];   // a line cut short by a kill stays alone on its line
            }
            f.Seek(0, SeekOrigin.End);
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }
    }

    /// <summary>Every complete record of a manifest, in file order (none when it does not exist); lines that are not
    /// records are counted in <paramref name="skipped"/>.</summary>
    public static List<ManifestRecord> Read(string path, out int skipped)
    {
        skipped = 0;
        var records = new List<ManifestRecord>();
        if (!System.IO.File.Exists(path)) return records;
        foreach (var line in Encoding.UTF8.GetString(InputFile.ReadAllBytes(path, PromptList.MaxBytes * 4)).Split('\n'))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (ManifestRecord.FromJson(line) is { } r) records.Add(r);
            else skipped++;
        }
        return records;
    }

    /// <summary>The last record of each line.</summary>
    public static Dictionary<int, ManifestRecord> Latest(IEnumerable<ManifestRecord> records)
    {
        var last = new Dictionary<int, ManifestRecord>();
        foreach (var r in records) last[r.Line] = r;
        return last;
    }

    /// <summary>The manifests <c>t2x batch --merge</c> reads from a folder: every shard's, and manifest.jsonl itself.</summary>
    public static IReadOnlyList<string> ShardManifests(string dir) =>
        Directory.EnumerateFiles(dir, "manifest-shard-*-of-*.jsonl").Order(StringComparer.Ordinal).ToList();

    /// <summary>What <see cref="Merge"/> found.</summary>
    public sealed record MergeResult(int Manifests, int Images, int Errors, IReadOnlyList<string> MissingShards, int SkippedLines);

    /// <summary>
    /// Merges every shard manifest of <paramref name="dir"/> (and a manifest.jsonl already there) into
    /// <c>DIR/manifest.jsonl</c>: one record per line of the prompt list, the latest of each, in line order, written
    /// whole or not at all. Reports shards of which no manifest exists (a shard that never started).
    /// </summary>
    public static MergeResult Merge(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir} does not exist");
        var sources = ShardManifests(dir);
        string target = System.IO.Path.Combine(dir, Shard.All.ManifestName);
        if (sources.Count == 0) throw new FileNotFoundException($"{dir} holds no shard manifests (manifest-shard-I-of-N.jsonl): nothing to merge", dir);
        var all = new List<ManifestRecord>();
        int skipped = 0;
        foreach (var source in sources.Append(target))
        {
            all.AddRange(Read(source, out int bad));
            skipped += bad;
        }
        // The latest record of each line wins, whichever file it is in.
        var merged = Latest(all.OrderBy(r => r.Time)).Values.OrderBy(r => r.Line).ToList();
        var text = new StringBuilder();
        foreach (var r in merged) text.Append(r.ToJson()).Append('\n');
        AtomicFile.Write(target, s => s.Write(Encoding.UTF8.GetBytes(text.ToString())), overwrite: true);

        var present = new Dictionary<int, HashSet<int>>();
        foreach (var name in sources.Select(System.IO.Path.GetFileName))
        {
            var parts = name!["manifest-shard-".Length..^".jsonl".Length].Split("-of-");
            if (parts.Length == 2 && int.TryParse(parts[0], out int i) && int.TryParse(parts[1], out int n))
                (present.TryGetValue(n, out var set) ? set : present[n] = []).Add(i);
        }
        var missing = present.SelectMany(p => Enumerable.Range(0, p.Key).Where(i => !p.Value.Contains(i)).Select(i => $"{i}/{p.Key}")).ToList();
        return new MergeResult(sources.Count, merged.Count(r => r.IsOk), merged.Count(r => !r.IsOk), missing, skipped);
    }
}
