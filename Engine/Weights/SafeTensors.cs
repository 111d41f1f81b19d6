using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using T2X.Vulkan.Files;
namespace T2X.Vulkan.Weights;

/// <summary>
/// A .safetensors file: an 8-byte little-endian header length, a JSON header
/// <c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}</c>, then the
/// tensors' bytes back to back. Opening reads and validates only the header; tensors are read one at a time.
/// </summary>
public sealed class SafeTensors : ITensorSource
{
    readonly SafeFileHandle _file;
    readonly long _dataStart;
    readonly Dictionary<string, (TensorInfo info, long begin)> _byName = new(StringComparer.Ordinal);
    public string Path { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }
    /// <summary>The header's "__metadata__" entries (empty when there are none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The safetensors library's own limit on the header size.</summary>
    const long MaxHeaderBytes = 100_000_000;

    static readonly Dictionary<string, DType> DTypes = new()
    {
        ["F32"] = DType.F32, ["F16"] = DType.F16, ["BF16"] = DType.BF16,
        ["I32"] = DType.I32, ["I64"] = DType.I64, ["U8"] = DType.U8, ["BOOL"] = DType.U8,
    };

    static readonly Dictionary<DType, string> Names = new()
    {
        [DType.F32] = "F32", [DType.F16] = "F16", [DType.BF16] = "BF16", [DType.I32] = "I32", [DType.I64] = "I64", [DType.U8] = "U8",
    };

    SafeTensors(string path)
    {
        Path = path;
        _file = InputFile.OpenHandle(path);
        try
        {
            long length = RandomAccess.GetLength(_file);
            if (length < 8) throw Bad($"file is {length} bytes, too short for the 8-byte header length");
            Span<byte> prefix = stackalloc byte[8];
            ReadExactly(prefix, 0);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength < 2 || headerLength > MaxHeaderBytes) throw Bad($"header length {headerLength} is not between 2 and {MaxHeaderBytes}");
            if ((long)headerLength > length - 8) throw Bad($"header length {headerLength} runs past the end of the {length}-byte file (truncated?)");
            var header = new byte[headerLength];
            ReadExactly(header, 8);
            _dataStart = 8 + (long)headerLength;
            (Tensors, Metadata) = ParseHeader(header, length - _dataStart);
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    public static SafeTensors Open(string path) => new(path);

    InvalidDataException Bad(string problem) => new($"{Path}: not a valid safetensors file: {problem}");

    void ReadExactly(Span<byte> destination, long offset)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(_file, destination[done..], offset + done);
            if (n == 0) throw Bad("file ended early (truncated?)");
            done += n;
        }
    }

    (List<TensorInfo>, Dictionary<string, string>) ParseHeader(byte[] header, long dataLength)
    {
        try { new UTF8Encoding(false, true).GetCharCount(header); }
        catch (DecoderFallbackException) { throw Bad("header is not UTF-8 text"); }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw Bad($"header is not valid JSON ({e.Message})"); }
        using var _ = doc;
        // Escapes that decode to invalid text (lone surrogates) surface as InvalidOperationException.
        try { return ParseEntries(doc, dataLength); }
        catch (InvalidOperationException e) { throw Bad($"header holds an invalid string ({e.Message})"); }
    }

    (List<TensorInfo>, Dictionary<string, string>) ParseEntries(JsonDocument doc, long dataLength)
    {
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("header is not a JSON object");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<(TensorInfo info, long begin, long end)>();
        bool sawMetadata = false;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                if (sawMetadata) throw Bad("\"__metadata__\" appears twice");
                sawMetadata = true;
                if (p.Value.ValueKind != JsonValueKind.Object) throw Bad("\"__metadata__\" is not an object");
                foreach (var m in p.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String) throw Bad($"metadata '{m.Name}' is not a string");
                    if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw Bad($"metadata '{m.Name}' appears twice");
                }
                continue;
            }
            if (entries.Count == Checkpoint.MaxTensors) throw Bad($"more than {Checkpoint.MaxTensors} tensors");
            var (info, begin, end) = ParseEntry(p);
            if (_byName.ContainsKey(info.Name)) throw Bad($"tensor '{info.Name}' appears twice");
            _byName[info.Name] = (info, begin);
            entries.Add((info, begin, end));
        }
        // The data must be covered exactly: sorted by offset, each tensor starts where the previous ended.
        entries.Sort((a, b) => a.begin != b.begin ? a.begin.CompareTo(b.begin) : a.end.CompareTo(b.end));
        long expected = 0;
        foreach (var (info, begin, end) in entries)
        {
            if (begin != expected)
                throw Bad(begin < expected ? $"tensor '{info.Name}' overlaps the previous tensor (starts at {begin}, previous ends at {expected})"
                                           : $"gap before tensor '{info.Name}' (starts at {begin}, previous ends at {expected})");
            expected = end;
        }
        if (expected != dataLength)
            throw Bad(expected > dataLength ? $"tensor data ends at {expected} but the file holds only {dataLength} data bytes (truncated?)"
                                            : $"{dataLength - expected} bytes after the last tensor");
        return (entries.Select(e => e.info).ToList(), metadata);
    }

    (TensorInfo, long begin, long end) ParseEntry(JsonProperty p)
    {
        string name = p.Name;
        var v = p.Value;
        if (v.ValueKind != JsonValueKind.Object) throw Bad($"entry '{name}' is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad($"tensor '{name}' has no dtype string");
        string dtypeName = dt.GetString()!;
        if (!DTypes.TryGetValue(dtypeName, out var dtype))
            throw Bad($"tensor '{name}' has dtype {dtypeName}; supported are {string.Join(", ", DTypes.Keys)}");
        long[] shape = Integers(v, "shape", name, -1);
        long[] offsets = Integers(v, "data_offsets", name, 2);
        long begin = offsets[0], end = offsets[1];
        long bytes;
        try
        {
            long elements = 1;
            foreach (var d in shape) elements = checked(elements * d);
            bytes = checked(elements * dtype.Size());
        }
        catch (OverflowException) { throw Bad($"tensor '{name}' has an absurd shape [{string.Join(",", shape)}]"); }
        if (end < begin || end - begin != bytes)
            throw Bad($"tensor '{name}' is {dtypeName}[{string.Join(",", shape)}] = {bytes} bytes but its data_offsets [{begin}, {end}] span {end - begin}");
        return (new TensorInfo(name, dtype, shape), begin, end);
    }

    long[] Integers(JsonElement v, string property, string name, int count)
    {
        if (!v.TryGetProperty(property, out var a) || a.ValueKind != JsonValueKind.Array) throw Bad($"tensor '{name}' has no '{property}' array");
        int n = a.GetArrayLength();
        if (count >= 0 && n != count) throw Bad($"tensor '{name}': '{property}' has {n} values, expected {count}");
        if (n > 64) throw Bad($"tensor '{name}': '{property}' has {n} values");
        var result = new long[n];
        int i = 0;
        foreach (var x in a.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out long value) || value < 0)
                throw Bad($"tensor '{name}': '{property}' holds {x.GetRawText()}, expected non-negative integers");
            result[i++] = value;
        }
        return result;
    }

    public HostTensor Read(string name)
    {
        if (!_byName.TryGetValue(name, out var t)) throw new KeyNotFoundException($"{Path}: no tensor '{name}'");
        long bytes = t.info.Elements * t.info.DType.Size();
        if (bytes > Array.MaxLength) throw Bad($"tensor '{name}' ({bytes} bytes) is too large for one host buffer");
        var data = new byte[bytes];
        ReadExactly(data, _dataStart + t.begin);
        return new HostTensor(t.info.DType, t.info.Shape, data);
    }

    public void Prefetch(IEnumerable<string> names)
    {
        foreach (var name in names)
            if (_byName.TryGetValue(name, out var t))
                ReadAhead.Hint(_file, _dataStart + t.begin, t.info.Elements * t.info.DType.Size());
    }

    public void Dispose() => _file.Dispose();

    // ---- writing ----

    /// <summary>Writes tensors (in the given order) and optional metadata; the file appears only when complete, and an
    /// existing file is replaced only with <paramref name="overwrite"/> (<see cref="AtomicFile"/>).</summary>
    public static void Write(string path, IEnumerable<(string name, HostTensor tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null, bool overwrite = false)
    {
        var (infos, read) = Checkpoint.Announce(tensors);
        Write(path, infos, read, metadata, overwrite);
    }

    /// <summary>Writes tensors that are read one at a time (so a checkpoint larger than memory can be converted).</summary>
    public static void Write(string path, IReadOnlyList<TensorInfo> tensors, Func<TensorInfo, HostTensor> read, IReadOnlyDictionary<string, string>? metadata = null, bool overwrite = false)
    {
        Checkpoint.RequireUniqueNames(tensors);
        if (tensors.Any(t => t.Name == "__metadata__")) throw new ArgumentException("a tensor cannot be named \"__metadata__\"");
        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                long bytes = t.Elements * t.DType.Size();
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", Names[t.DType]);
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        // Pad the header with spaces so the data starts 8-byte aligned, as the safetensors library does.
        int padding = (int)((8 - json.Length % 8) % 8);
        for (int i = 0; i < padding; i++) json.WriteByte((byte)' ');
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)json.Length);
            stream.Write(prefix);
            json.Position = 0;
            json.CopyTo(stream);
            foreach (var t in tensors)
            {
                stream.Write(Checkpoint.AsAnnounced(t, read(t)).Bytes);
            }
        }, overwrite);
    }
}
