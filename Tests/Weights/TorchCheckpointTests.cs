using System.Diagnostics;
using System.Text;
using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Weights;
using static T2X.Vulkan.Weights.TorchCheckpoint;

namespace T2X.Tests.Weights;

public class TorchCheckpointTests : WeightFiles
{
    [TestCase(null)]
    [TestCase("state_dict")]
    [TestCase("model")]
    public void RoundTripsEveryDTypeExactly(string? wrapper)
    {
        var tensors = MixedTensors();
        string path = FilePath("m.pt");
        TorchCheckpoint.Write(path, tensors, wrapper);
        using var ckpt = TorchCheckpoint.Open(path);
        Assert.That(ckpt.Wrapper, Is.EqualTo(wrapper));
        AssertSame(ckpt, tensors);
        using var any = Checkpoint.Open(path);
        Assert.That(any, Is.InstanceOf<TorchCheckpoint>(), "chosen by content");
        AssertSame(any, tensors);
    }

    [Test]
    public void ReadsWhatTorchSaveWrote([Values("torch113_state_dict.pt", "torch113_protocol4.pt", "torch113_legacy.pt", "torch113_megatron_like.pt")] string file)
    {
        using var ckpt = Checkpoint.Open(Path.Combine(RepoRoot(), "Tests/Weights/Fixtures", file));
        float[] w32 = Enumerable.Range(0, 12).Select(i => i / 8f).ToArray();
        var expected = new (string name, DType dtype, long[] shape, double[] values)[]
        {
            ("w32", DType.F32, [3, 4], w32.Select(x => (double)x).ToArray()),
            ("w16", DType.F16, [2, 3], Enumerable.Range(0, 6).Select(i => i - 2.5).ToArray()),
            ("wbf", DType.BF16, [5], Enumerable.Range(0, 5).Select(i => (double)BFloat16.Round(i * 0.5f + (float)(1.0 / 3))).ToArray()),
            ("i64", DType.I64, [4], [-1, 0, 1, 2]),
            ("i32", DType.I32, [3], [0, 7, 14]),
            ("u8", DType.U8, [4], [0, 60, 120, 180]),
            ("mask", DType.U8, [3], [1, 0, 1]),
            ("t", DType.F32, [4, 3], Enumerable.Range(0, 12).Select(i => (double)w32[i % 3 * 4 + i / 3]).ToArray()),
            ("s", DType.F32, [3], [5 / 8.0, 6 / 8.0, 7 / 8.0]),
            ("param", DType.F32, [2], [0.25, 0.25]),
            ("scalar", DType.F32, [], [3.5]),
            ("block.0.weight", DType.F32, [2, 3], [-1, 0, 1, 2, 3, 4]),
            ("block.0.bias", DType.F32, [2], [0.5, -0.5]),
        };
        Assert.That(ckpt.Tensors.Select(t => t.Name), Is.EqualTo(expected.Select(e => e.name)));
        ckpt.Prefetch(expected.Select(e => e.name).Append("no such tensor"));   // a hint: reads are the same after it
        foreach (var e in expected)
        {
            var t = ckpt.Read(e.name);
            Assert.That(t.DType, Is.EqualTo(e.dtype), e.name);
            Assert.That(t.Shape, Is.EqualTo(e.shape), e.name);
            Assert.That(t.ToFloat64(), Is.EqualTo(e.values), e.name);
        }
        Assert.That(((TorchCheckpoint)ckpt).Wrapper, Is.EqualTo(file.Contains("state_dict") ? "state_dict" : file.Contains("megatron") ? "model" : null));
        Assert.That(((TorchCheckpoint)ckpt).Legacy, Is.EqualTo(file.Contains("legacy")));
    }

    [Test]
    public void ViewsWithOffsetsAndStridesAreMaterialisedContiguous()
    {
        var f32 = RandomTensor(DType.F32, 30);
        var bf16 = RandomTensor(DType.BF16, 12);
        var views = new (string name, TorchView view)[]
        {
            ("whole", new TorchView(0, 0, [5, 6])),
            ("transposed", new TorchView(0, 0, [6, 5], [1, 6])),
            ("row_slice", new TorchView(0, 7, [2, 3], [6, 1])),
            ("every_other", new TorchView(0, 1, [3, 2, 2], [10, 1, 4])),
            ("broadcast", new TorchView(0, 29, [4, 3], [0, 0])),
            ("size1_dims_any_stride", new TorchView(0, 3, [1, 4, 1], [99, 1, 77])),
            ("empty", new TorchView(0, 30 - 1, [0, 5], [1, 1])),
            ("bf16_column", new TorchView(1, 2, [4], [3])),
            ("bf16_all", new TorchView(1, 0, [12])),
        };
        string path = FilePath("views.pt");
        TorchCheckpoint.WriteTree(path, [new("state_dict", views.Select(v => new KeyValuePair<string, object?>(v.name, v.view)).ToList())], [f32, bf16]);
        using var ckpt = TorchCheckpoint.Open(path);
        ckpt.Prefetch(views.Select(v => v.name));   // strided, broadcast and empty views hint their storage range, or nothing
        var storages = new[] { f32, bf16 };
        foreach (var (name, v) in views)
        {
            var storage = storages[v.Storage];
            int size = storage.DType.Size();
            long n = v.Shape.Aggregate(1L, (a, b) => a * b);
            var want = new byte[n * size];
            var strides = v.Strides ?? v.Shape.Select((_, d) => v.Shape.Skip(d + 1).Aggregate(1L, (a, b) => a * b)).ToArray();
            for (long e = 0; e < n; e++)
            {
                long rest = e, src = v.Offset;
                for (int d = v.Shape.Length - 1; d >= 0; d--) { src += rest % v.Shape[d] * strides[d]; rest /= v.Shape[d]; }
                Array.Copy(storage.Bytes, src * size, want, e * size, size);
            }
            var got = ckpt.Read(name);
            Assert.That(got.Shape, Is.EqualTo(v.Shape), name);
            Assert.That(got.DType, Is.EqualTo(storage.DType), name);
            Assert.That(got.Bytes, Is.EqualTo(want), name);
        }
    }

    [Test]
    public void NestedDictsGiveDottedNamesAndTheWrapperIsChosenAsTheOfficialLoaderDoes()
    {
        var a = RandomTensor(DType.F32, 2);
        var b = RandomTensor(DType.F16, 3);
        var c = RandomTensor(DType.BF16, 1, 2);
        KeyValuePair<string, object?> P(string k, object? v) => new(k, v);
        var inner = new List<KeyValuePair<string, object?>>
        {
            P("a", new TorchView(0, 0, [2])),
            P("blocks", new List<KeyValuePair<string, object?>> { P("0", new List<KeyValuePair<string, object?>> { P("w", new TorchView(1, 0, [3])) }) }),
            P("step", 7L), P("name", "x"), P("none", null), P("lr", 0.5), P("flag", true),
        };
        string path = FilePath("nested.ckpt");
        // "model" wins over "state_dict" (MindSpeed-MM's load_checkpoint); other top-level entries are ignored.
        TorchCheckpoint.WriteTree(path, [P("epoch", 3), P("state_dict", new List<KeyValuePair<string, object?>> { P("ignored", new TorchView(2, 0, [1, 2])) }), P("model", inner)], [a, b, c]);
        using (var ckpt = TorchCheckpoint.Open(path))
        {
            Assert.That(ckpt.Wrapper, Is.EqualTo("model"));
            AssertSame(ckpt, [("a", a), ("blocks.0.w", b)]);
        }
        TorchCheckpoint.WriteTree(path, [P("optimizer", 1), P("state_dict", inner)], [a, b, c], overwrite: true);
        using (var ckpt = TorchCheckpoint.Open(path))
            AssertSame(ckpt, [("a", a), ("blocks.0.w", b)]);
        TorchCheckpoint.WriteTree(path, [P("x", inner), P("y", new TorchView(2, 0, [1, 2]))], [a, b, c], overwrite: true);
        using (var ckpt = TorchCheckpoint.Open(path))
        {
            Assert.That(ckpt.Wrapper, Is.Null);
            AssertSame(ckpt, [("x.a", a), ("x.blocks.0.w", b), ("y", c)]);
        }
        TorchCheckpoint.WriteTree(path, [P("a.b", new TorchView(0, 0, [2])), P("a", new List<KeyValuePair<string, object?>> { P("b", new TorchView(0, 0, [2])) })], [a], overwrite: true);
        Assert.That(Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path))!.Message, Does.Contain("'a.b' occurs twice"));
    }

    [Test]
    public void Zip64RecordsAreReadAndWritten()
    {
        var tensors = MixedTensors();
        string path = FilePath("plain.pt"), z64 = FilePath("zip64.pt");
        TorchCheckpoint.Write(path, tensors, "state_dict");
        Repack(path, z64, forceZip64: true);
        Assert.That(File.ReadAllBytes(z64).Length, Is.GreaterThan(new FileInfo(path).Length));
        using var ckpt = Checkpoint.Open(z64);
        AssertSame(ckpt, tensors);
    }

    [Test]
    public void DeflatedEntriesAreRead()
    {
        // torch.save stores entries uncompressed, but a re-zipped archive may deflate them.
        var tensors = MixedTensors();
        string path = FilePath("plain.pt"), deflated = FilePath("deflated.pt");
        TorchCheckpoint.Write(path, tensors, "state_dict");
        using (var zip = new ZipReader(path))
        using (var output = new System.IO.Compression.ZipArchive(File.Create(deflated), System.IO.Compression.ZipArchiveMode.Create))
            foreach (var e in zip.Entries)
            {
                using var s = output.CreateEntry(e.Name, System.IO.Compression.CompressionLevel.Optimal).Open();
                s.Write(zip.ReadAll(e, 1 << 30));
            }
        using (var zip = new ZipReader(deflated))
            Assert.That(zip.Entries.Where(e => e.Size > 64).Select(e => e.Method), Is.All.EqualTo(8), "entries are deflated");
        using var ckpt = Checkpoint.Open(deflated);
        ckpt.Prefetch(tensors.Select(t => t.Item1));   // deflated entries are no byte range of the file: no hint
        AssertSame(ckpt, tensors);
    }

    [Test]
    public void MoreThan65535EntriesUseZip64AndLoad()
    {
        const int n = 66_000;
        var tensors = Enumerable.Range(0, n).Select(i => ($"layers.{i}.w", HostTensor.FromFloat32([i], 1))).ToList();
        string path = FilePath("many.pt");
        TorchCheckpoint.Write(path, tensors);
        using var ckpt = TorchCheckpoint.Open(path);
        Assert.That(ckpt.Tensors, Has.Count.EqualTo(n));
        foreach (int i in new[] { 0, 1, 65534, 65535, n - 1 })
            Assert.That(ckpt.Read($"layers.{i}.w").ToFloat32(), Is.EqualTo(new[] { (float)i }));
    }

    [TestCase("os", "system")]
    [TestCase("posix", "system")]
    [TestCase("nt", "system")]
    [TestCase("builtins", "eval")]
    [TestCase("builtins", "exec")]
    [TestCase("builtins", "getattr")]
    [TestCase("subprocess", "Popen")]
    [TestCase("torch", "load")]
    [TestCase("torch._utils", "_rebuild_device_tensor_from_numpy")]
    [TestCase("collections", "defaultdict")]
    public void HostileGlobalsAreRefusedByName(string module, string name)
    {
        foreach (bool stackGlobal in new[] { false, true })
        {
            var p = new PickleWriter();
            if (stackGlobal) { p.Str(module); p.Str(name); p.Op(0x93); }
            else p.Global(module, name);
            p.Str("echo owned > " + FilePath("owned"));
            p.Tuple(1);
            p.Op('R');
            string path = WriteZip(p.Finish());
            var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path));
            Assert.That(e!.Message, Does.Contain($"'{module}.{name}'").And.Contain("not allowed").And.Contain(path));
            Assert.That(File.Exists(FilePath("owned")), Is.False);
        }
    }

    /// <summary>Objects of other classes are inert placeholders: accepted beside the weights (as Megatron's "args"
    /// and "rng_state" are, see the megatron_like fixture), refused by name inside them. Nothing is called.</summary>
    [Test]
    public void ForeignObjectsInsideTheWeightsAreRefusedByName()
    {
        var p = new PickleWriter();
        p.Op('}');
        p.Str("model");
        p.Op('}');
        p.Str("blocks.0.weight");
        p.Global("argparse", "Namespace");
        p.Tuple(0);
        p.Op(0x81);                                  // NEWOBJ
        p.Op('}');
        p.Op('b');                                   // BUILD with an empty state
        p.Op('s');
        p.Op('s');
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(WriteZip(p.Finish())));
        Assert.That(e!.Message, Does.Contain("weight 'blocks.0.weight' cannot be read: it is an object of argparse.Namespace"));

        var q = new PickleWriter();
        q.Op('}');
        q.Str("d");
        q.Global("torch._utils", "_rebuild_tensor_v2");
        q.Mark();
        q.Mark(); q.Str("storage"); q.Global("torch", "DoubleStorage"); q.Str("0"); q.Str("cpu"); q.Int(2); q.Op('t'); q.Op('Q');
        q.Int(0); q.IntTuple([2]); q.IntTuple([1]); q.Bool(false); q.Global("collections", "OrderedDict"); q.Tuple(0); q.Op('R');
        q.Op('t'); q.Op('R');
        q.Op('s');
        e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(WriteZip(q.Finish(), ("0", new byte[16]))));
        Assert.That(e!.Message, Does.Contain("weight 'd' cannot be read: it is a tensor in a torch.DoubleStorage"));
    }

    static byte[] Raw(string ops) => Encoding.Latin1.GetBytes(ops);

    /// <summary>Hand-made pickles: each must be refused with the given words in the message.</summary>
    static readonly (string name, byte[] pickle, string problem)[] BadPickles =
    [
        ("empty", [], "ends early"),
        ("no STOP", Raw("\u0080\u0002}"), "ends early"),
        ("memo index never stored", Raw("\u0080\u0002h\u0005."), "memo index 5"),
        ("long memo index never stored", Raw("\u0080\u0002j\u00ff\u00ff\u00ff\u007f."), "memo index"),
        ("stack underflow", Raw("\u0080\u0002s."), "stack underflow"),
        ("pop below mark", Raw("\u0080\u0002}(0."), "stack underflow"),
        ("STOP with two values", Raw("\u0080\u0002}}."), "exactly one value"),
        ("no MARK", Raw("\u0080\u0002t."), "no MARK"),
        ("INST", Raw("\u0080\u0002(ios\nsystem\n."), "opcode 0x69"),
        ("NEWOBJ of a number", Raw("\u0080\u0002K\u0001)\u0081."), "not callable"),
        ("text INT (protocol 0)", Raw("\u0080\u0002I1\n."), "opcode 0x49"),
        ("unknown opcode", Raw("\u0080\u0002\u00ff."), "opcode 0xff"),
        ("protocol 9", Raw("\u0080\u0009}."), "protocol"),
        ("absurd BINUNICODE length", Raw("\u0080\u0002X\u00ff\u00ff\u00ff\u00ffab."), "ends early"),
        ("absurd BINBYTES8 length", Raw("\u0080\u0002\u008e\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff."), "absurd"),
        ("absurd LONG4 length", Raw("\u0080\u0002\u008b\u00ff\u00ff\u00ff\u007f."), "ends early"),
        ("LONG1 wider than 64 bits", Raw("\u0080\u0002\u008a\u0009\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001\u0001."), "64 bits"),
        ("invalid UTF-8", Raw("\u0080\u0002X\u0002\u0000\u0000\u0000\u00c3\u0028."), "UTF-8"),
        ("GLOBAL without newline", Raw("\u0080\u0002c" + new string('a', 300)), "not terminated"),
        ("REDUCE of a non-global", Raw("\u0080\u0002K\u0001)R."), "not callable"),
        ("REDUCE with a list", Raw("\u0080\u0002ccollections\nOrderedDict\n]R."), "expected a tuple"),
        ("OrderedDict with arguments", Raw("\u0080\u0002ccollections\nOrderedDict\nK\u0001\u0085R."), "not understood"),
        ("SETITEM on a list", Raw("\u0080\u0002]K\u0001K\u0002s."), "expected a dict"),
        ("APPEND on a dict", Raw("\u0080\u0002}K\u0001a."), "expected a list"),
        ("tuple dict key", Raw("\u0080\u0002})K\u0001s."), "dict key of type tuple"),
        ("top level is a list", Raw("\u0080\u0002]."), "expected a dict"),
        ("top level is None", Raw("\u0080\u0002N."), "expected a dict"),
        ("BUILD on a number", Raw("\u0080\u0002K\u0001}b."), "BUILD of a int"),
        ("persistent id not a tuple", Raw("\u0080\u0002X\u0001\u0000\u0000\u0000aQ."), "persistent id"),
        ("persistent id of a non-storage", Raw("\u0080\u0002(X\u0007\u0000\u0000\u0000storageccollections\nOrderedDict\nX\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpuK\u0001tQ."), "not a storage type"),
        ("float64 storage at the top", Raw("\u0080\u0002ctorch\nDoubleStorage\n."), "'torch.DoubleStorage', which is not allowed"),
        ("cyclic dict", Raw("\u0080\u0002}q\u0000X\u0001\u0000\u0000\u0000ah\u0000s."), "nested deeper"),
    ];

    [TestCaseSource(nameof(BadPickles))]
    public void MalformedPicklesAreRefused((string name, byte[] pickle, string problem) c)
    {
        string path = WriteZip(c.pickle);
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path).Dispose(), c.name);
        Assert.That(e!.Message, Does.Contain(c.problem).And.Contain(path), c.name);
    }

    [Test]
    public void DeepNestingAndHugeCountsStayBounded()
    {
        // 100 nested dicts: refused by depth, not by a stack overflow.
        var ops = new StringBuilder("\u0080\u0002}");
        for (int i = 0; i < 100; i++) ops.Append("X\u0001\u0000\u0000\u0000k}");
        ops.Append('s', 100).Append('.');
        Assert.That(Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(WriteZip(Raw(ops.ToString()))))!.Message, Does.Contain("nested deeper"));

        // A million nested lists and a million memo entries are just data: read in linear time, then ignored.
        ops.Clear().Append("\u0080\u0002}X\u0001\u0000\u0000\u0000k");
        ops.Append(']', 1_000_000).Append('a', 999_999);
        for (int i = 0; i < 1000; i++) ops.Append("r").Append(Encoding.Latin1.GetString(BitConverter.GetBytes(i * 4_000_000)));
        ops.Append("s.");
        var sw = Stopwatch.StartNew();
        using (var ckpt = TorchCheckpoint.Open(WriteZip(Raw(ops.ToString()))))
            Assert.That(ckpt.Tensors, Is.Empty);
        Assert.That(sw.Elapsed.TotalSeconds, Is.LessThan(30), "linear work");

        // A dict shared 2^40 ways through the memo (d[i] = {a: d[i-1], b: d[i-1]}): refused by the visit count,
        // not walked for ever.
        ops.Clear().Append("\u0080\u0002}q\u0000");
        for (int i = 1; i <= 40; i++)
            ops.Append("0}X\u0001\u0000\u0000\u0000ah").Append((char)(i - 1)).Append("sX\u0001\u0000\u0000\u0000bh").Append((char)(i - 1)).Append("sq").Append((char)i);
        ops.Append('.');
        sw.Restart();
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(WriteZip(Raw(ops.ToString()))).Dispose());
        Assert.That(e!.Message, Does.Contain("2 million dict entries"));
        Assert.That(sw.Elapsed.TotalSeconds, Is.LessThan(60), "bounded work");
    }

    [Test]
    public void StorageAndViewProblemsAreRefusedByName()
    {
        var data = new byte[16];
        // (storage numel, tensor offset, shape, strides, entry bytes, expected words)
        var cases = new (long numel, long offset, long[] shape, long[] strides, int bytes, string problem)[]
        {
            (4, 0, [4], [1], 12, "holds 12 bytes"),
            (4, 1, [4], [1], 16, "reaches past its storage"),
            (4, 0, [2, 2], [3, 1], 16, "reaches past its storage"),
            (4, 0, [1L << 40, 1L << 40], [1, 1], 16, "absurdly large"),
            (4, 0, [2], [-1], 16, "non-negative"),
            (4, -1, [2], [1], 16, "reaches past"),
            (1L << 62, 0, [1], [1], 16, "absurd size"),
            (4, 0, [1L << 30, 4], [0, 1], 16, "repeats the 4 elements"),
        };
        foreach (var c in cases)
        {
            var p = new PickleWriter();
            p.Op('}');
            p.Str("t");
            p.Global("torch._utils", "_rebuild_tensor_v2");
            p.Mark();
            p.Mark(); p.Str("storage"); p.Global("torch", "FloatStorage"); p.Str("0"); p.Str("cpu"); p.Int(c.numel); p.Op('t'); p.Op('Q');
            p.Int(c.offset); p.IntTuple(c.shape); p.IntTuple(c.strides); p.Bool(false); p.Global("collections", "OrderedDict"); p.Tuple(0); p.Op('R');
            p.Op('t'); p.Op('R');
            p.Op('s');
            string path = WriteZip(p.Finish(), ("0", new byte[c.bytes]));
            var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path).Dispose(), c.problem);
            Assert.That(e!.Message, Does.Contain(c.problem), string.Join(",", c.shape));
        }
        var q = new PickleWriter();
        q.Op('}'); q.Str("t");
        q.Global("torch._utils", "_rebuild_tensor_v2");
        q.Mark(); q.Mark(); q.Str("storage"); q.Global("torch", "FloatStorage"); q.Str("7"); q.Str("cpu"); q.Int(1); q.Op('t'); q.Op('Q');
        q.Int(0); q.IntTuple([1]); q.IntTuple([1]); q.Bool(false); q.Global("collections", "OrderedDict"); q.Tuple(0); q.Op('R'); q.Op('t'); q.Op('R'); q.Op('s');
        Assert.That(Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(WriteZip(q.Finish())))!.Message, Does.Contain("no entry 'archive/data/7'"));
    }

    [Test]
    public void BigEndianArchivesAreRefused()
    {
        var p = new PickleWriter();
        p.Op('}');
        string path = FilePath("be.pt");
        using (var f = File.Create(path))
        {
            var zip = new ZipWriter(f);
            zip.Add("archive/data.pkl", p.Finish());
            zip.Add("archive/byteorder", "big"u8);
            zip.Finish();
        }
        Assert.That(Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Open(path))!.Message, Does.Contain("big-endian"));
    }

    [Test]
    public void DamagedLegacyFilesFailCleanly()
    {
        var good = File.ReadAllBytes(Path.Combine(RepoRoot(), "Tests/Weights/Fixtures/torch113_legacy.pt"));
        AssertCorruptionsFailCleanly(good, ".pt", truncations: 400, flips: 400);
        File.WriteAllBytes(FilePath("long.pt"), [.. good, 0]);
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("long.pt")))!.Message, Does.Contain("1 bytes after the last storage"));
    }

    [Test]
    public void HostileGlobalsAreRefusedInTheLegacyFormatToo()
    {
        var p = new PickleWriter();
        p.Global("posix", "system");
        p.Str("true");
        p.Tuple(1);
        p.Op('R');
        var version = new PickleWriter();
        version.Int(1001);
        byte[] magic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.'];
        var info = new PickleWriter();
        info.Op('}');
        File.WriteAllBytes(FilePath("evil.pt"), [.. magic, .. version.Finish(), .. info.Finish(), .. p.Finish()]);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("evil.pt")));
        Assert.That(e!.Message, Does.Contain("'posix.system', which is not allowed"));
    }

    /// <summary>A legacy-format file built by hand: pickles bigger than the first read, and a storage view
    /// (the legacy persistent id's view metadata).</summary>
    [Test]
    public void LegacyFilesWithLargePicklesAndStorageViewsAreRead()
    {
        var data = RandomTensor(DType.F16, 10);
        var p = new PickleWriter();
        p.Op('}');
        p.Mark();
        p.Str("notes");
        p.Str(new string('x', 3 << 20));                 // pushes the storage list past the first 1 MiB read
        foreach (var (name, view) in new[] { ("whole", (object?)null), ("view", new object?[] { "k0v", 4L, 5L }) })
        {
            p.Str(name);
            p.Global("torch._utils", "_rebuild_tensor_v2");
            p.Mark();
            p.Mark(); p.Str("storage"); p.Global("torch", "HalfStorage"); p.Str("k0"); p.Str("cpu"); p.Int(10);
            if (view is object?[] v) { p.Str((string)v[0]!); p.Int((long)v[1]!); p.Int((long)v[2]!); p.Tuple(3); } else p.None();
            p.Op('t'); p.Op('Q');
            p.Int(view is null ? 0 : 1); p.IntTuple(view is null ? [10] : [2, 2]); p.IntTuple(view is null ? [1] : [1, 2]);
            p.Bool(false); p.Global("collections", "OrderedDict"); p.Tuple(0); p.Op('R');
            p.Op('t'); p.Op('R');
        }
        p.Op('u');
        var version = new PickleWriter(); version.Int(1001);
        var info = new PickleWriter(); info.Op('}'); info.Str("little_endian"); info.Bool(true); info.Op('s');
        var keys = new PickleWriter(); keys.Op(']'); keys.Str("k0"); keys.Op('a');
        byte[] magic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.'];
        File.WriteAllBytes(FilePath("legacy.pt"), [.. magic, .. version.Finish(), .. info.Finish(), .. p.Finish(), .. keys.Finish(), .. BitConverter.GetBytes(10L), .. data.Bytes]);
        using var ckpt = TorchCheckpoint.Open(FilePath("legacy.pt"));
        Assert.That(ckpt.Legacy, Is.True);
        ckpt.Prefetch(["whole", "view"]);
        Assert.That(ckpt.Read("whole").Bytes, Is.EqualTo(data.Bytes));
        // The view storage starts at element 4 of k0; the tensor takes offset 1, shape [2,2], strides [1,2].
        int[] elements = [5, 7, 6, 8];
        Assert.That(ckpt.Read("view").Bytes, Is.EqualTo(elements.SelectMany(i => data.Bytes[(2 * i)..(2 * i + 2)]).ToArray()));
    }

    [Test]
    public void DamagedArchivesFailCleanly()
    {
        string path = FilePath("good.pt");
        TorchCheckpoint.Write(path, MixedTensors().Take(5), "state_dict");
        AssertCorruptionsFailCleanly(File.ReadAllBytes(path), ".pt", truncations: 400, flips: 300);
    }

    [Test]
    [TestCase("ours")]
    [TestCase("torch113_megatron_like.pt")]
    public void DamagedPicklesFailCleanly(string source)
    {
        // Corrupt the pickle itself and re-zip it with a valid CRC, so the unpickler (not the CRC check) meets the damage.
        string good = FilePath("good.pt");
        if (source == "ours") TorchCheckpoint.Write(good, MixedTensors().Take(5).Append(("v", RandomTensor(DType.BF16, 2, 2))), "model");
        else File.Copy(Path.Combine(RepoRoot(), "Tests/Weights/Fixtures", source), good);
        byte[] pkl;
        using (var zip = new ZipReader(good)) pkl = zip.ReadAll(zip.Entries.Single(e => e.Name.EndsWith("/data.pkl")), 1 << 20);
        string path = FilePath("damaged.pt");
        var cuts = Enumerable.Range(0, pkl.Length).Where(c => pkl.Length < 2000 || Rng.Next(pkl.Length) < 500);
        foreach (int cut in cuts)
        {
            Repack(good, path, replace: b => b[..cut]);
            var e = OpenAndReadAll(path);
            Assert.That(e, Is.InstanceOf<InvalidDataException>(), $"pickle truncated at {cut}: {e}");
        }
        int ok = 0;
        const int mutations = 600;
        for (int i = 0; i < mutations; i++)
        {
            var bad = (byte[])pkl.Clone();
            int at = Rng.Next(bad.Length);
            bad[at] = i % 2 == 0 ? (byte)(bad[at] ^ 1 << Rng.Next(8)) : (byte)Rng.Next(256);
            Repack(good, path, replace: _ => bad);
            var e = OpenAndReadAll(path);
            if (e is null) ok++;
            else Assert.That(e, Is.InstanceOf<InvalidDataException>(), $"pickle byte {at} changed: {e}");
        }
        TestContext.Out.WriteLine($"{ok} of {mutations} pickle mutations still read");
    }

    [Test]
    public void WriterLeavesNothingHalfWritten()
    {
        string path = FilePath("w.pt");
        var infos = new[] { new TensorInfo("a", DType.F32, [4]), new TensorInfo("b", DType.F32, [4]) };
        Assert.Throws<InvalidOperationException>(() => TorchCheckpoint.Write(path, infos, t => t.Name == "b" ? throw new InvalidOperationException("boom") : RandomTensor(DType.F32, 4)));
        Assert.That(Directory.GetFiles(Dir), Is.Empty, "no file and no temporary left behind");
        Assert.Throws<ArgumentException>(() => TorchCheckpoint.Write(path, [("a", RandomTensor(DType.F32, 1))], wrapper: "weights"));
        Assert.Throws<ArgumentException>(() => TorchCheckpoint.Write(path, [infos[0], infos[0]], _ => RandomTensor(DType.F32, 4)), "duplicate names");
        Assert.Throws<ArgumentException>(() => TorchCheckpoint.Write(path, infos, _ => RandomTensor(DType.BF16, 4)), "read tensor differs from its announcement");
        Assert.Throws<ArgumentException>(() => TorchCheckpoint.WriteTree(path, [new("x", new TorchView(0, 3, [2]))], [RandomTensor(DType.F32, 4)]), "view past its storage");
    }

    /// <summary>torch.load (when this machine has PyTorch) reads our files to the same bytes.</summary>
    [Test]
    public void TorchLoadReadsWhatWeWrite()
    {
        if (!SystemPyTorch.Installed()) Assert.Fail("PyTorch is not installed (bash Tools/install-deps.sh installs python3-torch) - cannot cross-check with torch.load");
        var tensors = MixedTensors().Where(t => t.Item2.Elements > 0).ToList();
        var f32 = RandomTensor(DType.F32, 12);
        TorchCheckpoint.Write(FilePath("plain.pt"), tensors);
        TorchCheckpoint.Write(FilePath("wrapped.pt"), tensors, "state_dict");
        TorchCheckpoint.WriteTree(FilePath("views.pt"), [new("model", new List<KeyValuePair<string, object?>>
            { new("t", new TorchView(0, 1, [3, 2], [1, 4])), new("whole", new TorchView(0, 0, [12])) })], [f32]);
        Repack(FilePath("wrapped.pt"), FilePath("zip64.pt"), forceZip64: true);
        const string script = """
import sys, torch
for path in sys.argv[1:]:
    obj = torch.load(path, map_location="cpu", weights_only=True) if "weights_only" in torch.load.__code__.co_varnames else torch.load(path, map_location="cpu")
    for wrapper in ("model", "state_dict"):
        if isinstance(obj, dict) and wrapper in obj: obj = obj[wrapper]
    for name, t in obj.items():
        raw = bytes(t.contiguous().reshape(-1).view(torch.uint8).tolist()) if t.dim() > 0 else bytes(t.reshape(1).view(torch.uint8).tolist())
        print(path.split("/")[-1], name, str(t.dtype), list(t.shape), raw.hex())
""";
        var (code, output, errors) = SystemPyTorch.Run(["-c", script, .. new[] { "plain.pt", "wrapped.pt", "views.pt", "zip64.pt" }.Select(FilePath)]);
        Assert.That(code, Is.EqualTo(0), errors);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string TorchDType(DType d) => d switch
        {
            DType.F32 => "torch.float32", DType.F16 => "torch.float16", DType.BF16 => "torch.bfloat16",
            DType.I32 => "torch.int32", DType.I64 => "torch.int64", _ => "torch.uint8",
        };
        string Line(string file, string name, HostTensor t) => $"{file} {name} {TorchDType(t.DType)} [{string.Join(", ", t.Shape)}] {Convert.ToHexString(t.Bytes).ToLowerInvariant()}";
        var expected = new List<string>();
        foreach (var file in new[] { "plain.pt", "wrapped.pt" })
            expected.AddRange(tensors.Select(t => Line(file, t.Item1, t.Item2)));
        using (var views = TorchCheckpoint.Open(FilePath("views.pt")))
            expected.AddRange(views.Tensors.Select(t => Line("views.pt", t.Name, views.Read(t.Name))));
        expected.AddRange(tensors.Select(t => Line("zip64.pt", t.Item1, t.Item2)));
        Assert.That(lines, Is.EqualTo(expected));
    }

    /// <summary>A torch-style archive from raw pickle bytes and storage entries.</summary>
    string WriteZip(byte[] pickle, params (string key, byte[] data)[] storages)
    {
        string path = FilePath($"raw{Guid.NewGuid():N}.pt");
        using var f = File.Create(path);
        var zip = new ZipWriter(f);
        zip.Add("archive/data.pkl", pickle);
        foreach (var (key, data) in storages) zip.Add($"archive/data/{key}", data);
        zip.Add("archive/version", "3\n"u8);
        zip.Finish();
        return path;
    }

    /// <summary>Copies an archive entry by entry, optionally replacing data.pkl's bytes or writing zip64 records.</summary>
    static void Repack(string from, string to, Func<byte[], byte[]>? replace = null, bool forceZip64 = false)
    {
        using var zip = new ZipReader(from);
        using var f = File.Create(to);
        var writer = new ZipWriter(f) { ForceZip64 = forceZip64 };
        foreach (var e in zip.Entries)
        {
            var bytes = zip.ReadAll(e, 1 << 30);
            writer.Add(e.Name, replace is not null && e.Name.EndsWith("data.pkl") ? replace(bytes) : bytes);
        }
        writer.Finish();
    }
}
