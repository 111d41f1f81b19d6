using System.Buffers.Binary;
using System.Text;
using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Weights;

public class SafeTensorsTests : WeightFiles
{
    [Test]
    public void RoundTripsEveryDTypeExactly()
    {
        var tensors = MixedTensors();
        string path = FilePath("m.safetensors");
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode" });
        using var st = SafeTensors.Open(path);
        AssertSame(st, tensors);
        Assert.That(st.Metadata["format"], Is.EqualTo("pt"));
        Assert.That(st.Metadata["note"], Is.EqualTo("ünïcode"));
        using var any = Checkpoint.Open(path);
        Assert.That(any, Is.InstanceOf<SafeTensors>(), "chosen by content");
        AssertSame(any, tensors);
    }

    [Test]
    public void HeaderIsPaddedAndDataFollowsInOrder()
    {
        var a = RandomTensor(DType.F16, 3);
        var b = RandomTensor(DType.BF16, 2, 2);
        string path = FilePath("x.safetensors");
        SafeTensors.Write(path, [("a", a), ("b", b)]);
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.EqualTo(0), "header padded to 8 bytes");
        Assert.That(bytes[(int)(8 + n)..], Is.EqualTo(a.Bytes.Concat(b.Bytes).ToArray()), "data back to back in the given order");
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.That(header, Does.Contain("\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]}"));
    }

    [Test]
    public void BoolIsReadAsU8()
    {
        string path = WriteRaw("{\"m\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}", [1, 0, 1]);
        using var st = SafeTensors.Open(path);
        Assert.That(st.Tensors[0].DType, Is.EqualTo(DType.U8));
        Assert.That(st.Read("m").Bytes, Is.EqualTo(new byte[] { 1, 0, 1 }));
    }

    [Test]
    public void HeaderLengthsThatLookLikeOtherFormatsAreStillSafetensors()
    {
        // 640 = 0x280 starts the file with bytes 80 02, as a pickle does; 0x4b50 starts it with "PK".
        foreach (int length in new[] { 640, 0x4b50 })
        {
            string header = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
            string path = WriteRaw(header.PadRight(length), [7, 9]);
            using var s = Checkpoint.Open(path);
            Assert.That(s, Is.InstanceOf<SafeTensors>(), $"header length {length}");
            Assert.That(s.Read("a").Bytes, Is.EqualTo(new byte[] { 7, 9 }));
        }
    }

    [Test]
    public void WriterLeavesNothingHalfWritten()
    {
        string path = FilePath("w.safetensors");
        var good = new List<(string, HostTensor)> { ("a", RandomTensor(DType.F32, 4)) };
        SafeTensors.Write(path, good);
        var before = File.ReadAllBytes(path);
        var infos = new[] { new TensorInfo("a", DType.F32, [4]), new TensorInfo("b", DType.F32, [4]) };
        Assert.Throws<InvalidOperationException>(() => SafeTensors.Write(path, infos, t => t.Name == "b" ? throw new InvalidOperationException("disk gone") : RandomTensor(DType.F32, 4), overwrite: true));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before), "the old file is untouched");
        Assert.That(Directory.GetFiles(Dir), Has.Length.EqualTo(1), "no temporary file left behind");
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [("a", RandomTensor(DType.F32, 1)), ("a", RandomTensor(DType.F32, 1))]));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, infos, _ => RandomTensor(DType.F16, 4), overwrite: true), "read tensor differs from its announcement");
    }

    [Test]
    public void ShardedIndexReadsEveryShard()
    {
        var tensors = MixedTensors();
        var first = tensors.Take(7).ToList();
        var second = tensors.Skip(7).ToList();
        SafeTensors.Write(FilePath("model-00001-of-00002.safetensors"), first);
        SafeTensors.Write(FilePath("model-00002-of-00002.safetensors"), second);
        // The weight_map lists names in another order (Hugging Face sorts them); reading follows the shards.
        var map = first.Select(t => (t.Item1, "model-00001-of-00002.safetensors")).Concat(second.Select(t => (t.Item1, "model-00002-of-00002.safetensors")))
                       .OrderBy(t => t.Item1, StringComparer.Ordinal);
        WriteIndex("model.safetensors.index.json", map);
        using var source = Checkpoint.Open(FilePath("model.safetensors.index.json"));
        AssertSame(source, tensors);
        using var folder = Checkpoint.OpenFolder(Dir);
        AssertSame(folder, tensors);
    }

    [Test]
    public void PrefetchIsOnlyAHint()
    {
        var tensors = MixedTensors();
        SafeTensors.Write(FilePath("p-1.safetensors"), tensors.Take(5));
        SafeTensors.Write(FilePath("p-2.safetensors"), tensors.Skip(5));
        WriteIndex("p.safetensors.index.json", tensors.Select((t, i) => (t.Item1, i < 5 ? "p-1.safetensors" : "p-2.safetensors")));
        var source = Checkpoint.Open(FilePath("p.safetensors.index.json"));
        source.Prefetch(tensors.Select(t => t.Item1).Append("no such tensor"));
        AssertSame(source, tensors);
        source.Dispose();
        Assert.DoesNotThrow(() => source.Prefetch(tensors.Select(t => t.Item1)), "a closed source takes no hint and does not throw");

        using (var handle = File.OpenHandle(FilePath("p-1.safetensors")))
            if (OperatingSystem.IsLinux()) Assert.That(ReadAhead.Hint(handle, 0, 16), Is.True, "Linux takes the hint (macOS has no posix_fadvise)");
        var closed = File.OpenHandle(FilePath("p-1.safetensors"));
        closed.Dispose();
        Assert.That(ReadAhead.Hint(closed, 0, 16), Is.False);
    }

    [Test]
    public void ShardedIndexErrorsNameTheProblem()
    {
        SafeTensors.Write(FilePath("s1.safetensors"), [("a", RandomTensor(DType.F32, 2))]);
        WriteIndex("i.json", [("a", "s1.safetensors"), ("b", "s1.safetensors")]);
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("i.json")))!.Message, Does.Contain("'b' (in s1.safetensors)"));
        WriteIndex("i.json", [("a", "missing.safetensors")]);
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("i.json")))!.Message, Does.Contain("missing.safetensors"));
        WriteIndex("i.json", [("a", "../s1.safetensors")]);
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("i.json")))!.Message, Does.Contain("not a plain file name"));
        WriteIndex("i.json", [("a", "i.json")]);
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("i.json")))!.Message, Does.Contain("itself an index"));
        File.WriteAllText(FilePath("i.json"), "{\"metadata\": {}}");
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("i.json")))!.Message, Does.Contain("weight_map"));
        File.WriteAllText(FilePath("i.json"), "{\"weight_map\": {\"a\": ");
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("i.json")))!.Message, Does.Contain("not valid JSON"));
    }

    static readonly (string header, int dataBytes, string problem)[] BadHeaders =
    [
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "gap before tensor 'a'"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "4 bytes after the last tensor"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "12 bytes but its data_offsets [0, 8] span 8"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "truncated"),
        ("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "dtype F64"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "non-negative integers"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "absurd shape"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "expected 2"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "no 'data_offsets'"),
        ("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "no dtype"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "appears twice"),
        ("{\"__metadata__\":{\"k\":1}}", 0, "metadata 'k' is not a string"),
        ("{\"__metadata__\":[]}", 0, "not an object"),
        ("[1,2]", 0, "not a JSON object"),
        ("{\"a\":{\"dtype\":\"F32\",", 0, "not valid JSON"),
        ("{\"a\":3}", 0, "not an object"),
        ("{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "invalid string"),
    ];

    [TestCaseSource(nameof(BadHeaders))]
    public void MalformedHeadersAreRejectedByName((string header, int dataBytes, string problem) c)
    {
        string path = WriteRaw(c.header, new byte[c.dataBytes]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Open(path).Dispose());
        Assert.That(e!.Message, Does.Contain(c.problem).And.Contain(path));
    }

    [Test]
    public void AbsurdHeaderLengthsAreRejected()
    {
        string path = FilePath("h.safetensors");
        foreach (ulong n in new ulong[] { 0, 1, 1000, 100_000_001, ulong.MaxValue })
        {
            var bytes = new byte[8 + 16];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, n);
            "{}              "u8.CopyTo(bytes.AsSpan(8));
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Open(path).Dispose(), $"header length {n}");
            Assert.That(e!.Message, Does.Contain("header length"));
        }
    }

    [Test]
    public void DamagedFilesFailCleanly()
    {
        string path = FilePath("good.safetensors");
        SafeTensors.Write(path, MixedTensors().Take(6).Append(("x", RandomTensor(DType.BF16, 2, 3))), new Dictionary<string, string> { ["k"] = "v" });
        AssertCorruptionsFailCleanly(File.ReadAllBytes(path), ".safetensors", truncations: 400, flips: 400);
    }

    string WriteRaw(string header, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        string path = FilePath("raw.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    void WriteIndex(string name, IEnumerable<(string tensor, string shard)> map)
    {
        var sb = new StringBuilder("{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
        sb.AppendJoin(", ", map.Select(m => $"\"{m.tensor}\": \"{m.shard}\""));
        sb.Append("}}");
        File.WriteAllText(FilePath(name), sb.ToString());
    }
}
