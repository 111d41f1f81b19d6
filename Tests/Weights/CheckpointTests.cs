using System.Buffers.Binary;
using System.Text;
using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Weights;

public class CheckpointTests : WeightFiles
{
    [Test]
    public void FormatIsChosenByContentNotName()
    {
        var tensors = MixedTensors();
        SafeTensors.Write(FilePath("really_safetensors.pt"), tensors);
        TorchCheckpoint.Write(FilePath("really_torch.safetensors"), tensors);
        using (var a = Checkpoint.Open(FilePath("really_safetensors.pt"))) { Assert.That(a, Is.InstanceOf<SafeTensors>()); AssertSame(a, tensors); }
        using (var b = Checkpoint.Open(FilePath("really_torch.safetensors"))) { Assert.That(b, Is.InstanceOf<TorchCheckpoint>()); AssertSame(b, tensors); }
        File.WriteAllText(FilePath("text.bin"), "hello, not weights");
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("text.bin")))!.Message, Does.Contain("not a checkpoint"));
        File.WriteAllBytes(FilePath("empty.pt"), []);
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Open(FilePath("empty.pt")))!.Message, Does.Contain("not a checkpoint"));
        Assert.Throws<FileNotFoundException>(() => Checkpoint.Open(FilePath("missing.pt")));
    }

    [Test]
    public void OpenFolderFindsTheWeights()
    {
        var tensors = MixedTensors();
        File.WriteAllText(FilePath("config.json"), "{\"num_layers\": 28}");
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.OpenFolder(Dir))!.Message, Does.Contain("holds no weights"));

        TorchCheckpoint.Write(FilePath("transformer.pt"), tensors, "state_dict");
        using (var s = Checkpoint.OpenFolder(Dir)) AssertSame(s, tensors);

        // A safetensors file is preferred over a pickle, as Hugging Face loaders prefer it.
        var other = tensors.Take(3).ToList();
        SafeTensors.Write(FilePath("model.safetensors"), other);
        using (var s = Checkpoint.OpenFolder(Dir)) AssertSame(s, other);
        using (var s = Checkpoint.Open(Dir)) AssertSame(s, other);
        using (var s = Checkpoint.OpenFolder(Dir, "*.pt")) AssertSame(s, tensors);

        TorchCheckpoint.Write(FilePath("ema.ckpt"), tensors);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.OpenFolder(Dir, "*.*t"));
        Assert.That(e!.Message, Does.Contain("several").And.Contain("ema.ckpt").And.Contain("transformer.pt"));
        SafeTensors.Write(FilePath("second.safetensors"), other);
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.OpenFolder(Dir))!.Message, Does.Contain("model.safetensors, second.safetensors"));
        Assert.Throws<DirectoryNotFoundException>(() => Checkpoint.OpenFolder(FilePath("nope")));
    }

    [Test]
    public void ShardedTorchBinFilesLoadThroughTheirIndex()
    {
        var tensors = MixedTensors();
        TorchCheckpoint.Write(FilePath("pytorch_model-00001-of-00002.bin"), tensors.Take(4));
        TorchCheckpoint.Write(FilePath("pytorch_model-00002-of-00002.bin"), tensors.Skip(4));
        var map = tensors.Select((t, i) => $"\"{t.Item1}\": \"pytorch_model-0000{(i < 4 ? 1 : 2)}-of-00002.bin\"");
        File.WriteAllText(FilePath("pytorch_model.bin.index.json"), $"{{\"metadata\": {{}}, \"weight_map\": {{{string.Join(",", map)}}}}}");
        using var s = Checkpoint.OpenFolder(Dir);
        AssertSame(s, tensors);
    }

    [Test]
    public void KeyCheckNamesEveryProblemAtOnce()
    {
        var found = new[]
        {
            new TensorInfo("a.weight", DType.BF16, [4, 3]), new TensorInfo("a.bias", DType.BF16, [4]),
            new TensorInfo("b.weight", DType.BF16, [2, 2]), new TensorInfo("loss.logvar", DType.F32, []),
        };
        var expected = new (string, long[])[] { ("a.weight", [4, 3]), ("a.bias", [5]), ("b.weight", [2, 2]), ("c.weight", [1]), ("pos_embed.pos_embed", [1, 2]) };
        var m = CheckpointKeys.Compare(found, expected, optional: ["pos_embed.pos_embed"]);
        Assert.That(m.Missing, Is.EqualTo(new[] { "c.weight" }));
        Assert.That(m.Unexpected, Is.EqualTo(new[] { "loss.logvar" }));
        Assert.That(m.WrongShape.Select(w => w.name), Is.EqualTo(new[] { "a.bias" }));
        Assert.That(m.IsEmpty, Is.False);

        using var source = new ListSource(found);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointKeys.Verify(source, expected, ["pos_embed.pos_embed"], what: "transformer"));
        Assert.That(e!.Message, Does.Contain("transformer").And.Contain("1 missing: c.weight").And.Contain("a.bias is [4], expected [5]").And.Contain("1 unexpected: loss.logvar"));
        e = Assert.Throws<InvalidDataException>(() => CheckpointKeys.Verify(source, expected, ["pos_embed.pos_embed"], allowUnexpected: true));
        Assert.That(e!.Message, Does.Not.Contain("loss.logvar"));
        Assert.DoesNotThrow(() => CheckpointKeys.Verify(source, found.Select(f => (f.Name, f.Shape)), allowUnexpected: false));
        // An optional key that is present must still have the right shape.
        var withBuffer = found.Append(new TensorInfo("pos_embed.pos_embed", DType.F32, [1, 3])).ToList();
        Assert.That(CheckpointKeys.Compare(withBuffer, expected, ["pos_embed.pos_embed"]).WrongShape.Select(w => w.name), Does.Contain("pos_embed.pos_embed"));
    }

    /// <summary>The released PT-DiT state_dict layout (1416 keys, docs/ptdit.md §13), with every dimension scaled down
    /// so the files stay small: the key count and names are real.</summary>
    static List<(string name, long[] shape)> ReleasedKeys()
    {
        long D = 6, F = 24;                       // 1152 and 4608 scaled down
        var keys = new List<(string, long[])> { ("scale_shift_table", [2, D]), ("pos_embed.pos_embed", [1, 1, 4, D]), ("pos_embed.proj.weight", [D, 4, 2, 2]), ("pos_embed.proj.bias", [D]) };
        for (int i = 0; i < 28; i++)
        {
            string b = $"transformer_blocks.{i}.";
            keys.Add((b + "scale_shift_table", [6, D]));
            keys.Add((b + "proxy_scale_shift_table", [3, D]));
            foreach (var attn in new[] { "proxy_attn1", "attn1", "pvisual_attn2", "attn2", "attn3" })
                foreach (var proj in new[] { "to_q", "to_k", "to_v", "to_out.0" })
                {
                    keys.Add(($"{b}{attn}.{proj}.weight", [D, D]));
                    keys.Add(($"{b}{attn}.{proj}.bias", [D]));
                }
            keys.AddRange([(b + "linear_2.weight", [D, D]), (b + "linear_2.bias", [D]), (b + "ff.net.0.proj.weight", [F, D]), (b + "ff.net.0.proj.bias", [F]),
                           (b + "ff.net.2.weight", [D, F]), (b + "ff.net.2.bias", [D]), (b + "linear_1_visual.weight", [D, D]), (b + "linear_1_visual.bias", [D])]);
        }
        keys.AddRange([("proj_out.weight", [4, D]), ("proj_out.bias", [4]),
            ("adaln_single.emb.timestep_embedder.linear_1.weight", [D, 4]), ("adaln_single.emb.timestep_embedder.linear_1.bias", [D]),
            ("adaln_single.emb.timestep_embedder.linear_2.weight", [D, D]), ("adaln_single.emb.timestep_embedder.linear_2.bias", [D]),
            ("adaln_single.linear.weight", [6 * D, D]), ("adaln_single.linear.bias", [6 * D]),
            ("caption_projection.linear_1.weight", [D, 8]), ("caption_projection.linear_1.bias", [D]),
            ("caption_projection.linear_2.weight", [D, D]), ("caption_projection.linear_2.bias", [D])]);
        return keys;
    }

    [Test]
    public void ReleasedKeyLayoutLoadsFromBothFormatsInBf16()
    {
        var keys = ReleasedKeys();
        Assert.That(keys, Has.Count.EqualTo(1416));
        string tsv = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "ptdit", "released-keys.tsv");
        var names = File.ReadLines(tsv).Where(l => !l.StartsWith('#')).Select(l => l.Split('\t')[0]).ToList();
        Assert.That(keys.Select(k => k.name), Is.EquivalentTo(names), "the same names as the released key table (docs/ptdit.md §13)");
        var tensors = keys.Select(k => (k.name, RandomTensor(DType.BF16, k.shape))).ToList();
        SafeTensors.Write(FilePath("t.safetensors"), tensors);
        TorchCheckpoint.Write(FilePath("t.pt"), tensors, "state_dict");
        // The released file may lack the buffer; the loader ignores unexpected keys (strict=False).
        var withoutBuffer = tensors.Where(t => t.name != "pos_embed.pos_embed").Append(("loss.logvar", RandomTensor(DType.F32))).ToList();
        TorchCheckpoint.Write(FilePath("t2.pt"), withoutBuffer, "model");
        foreach (var (file, expected) in new[] { ("t.safetensors", tensors), ("t.pt", tensors), ("t2.pt", withoutBuffer) })
        {
            using var s = Checkpoint.Open(FilePath(file));
            CheckpointKeys.Verify(s, keys, optional: ["pos_embed.pos_embed"], allowUnexpected: true, what: file);
            AssertSame(s, expected);
        }
    }

    [Test]
    public void OffsetsBeyond4GiBAreReadFromSparseFiles()
    {
        // A safetensors file whose second tensor starts past 4 GiB: written sparse, so no disk space is used.
        long big = 5L << 30;
        string header = $"{{\"huge\":{{\"dtype\":\"U8\",\"shape\":[{big}],\"data_offsets\":[0,{big}]}},\"after\":{{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[{big},{big + 8}]}}}}";
        var h = Encoding.UTF8.GetBytes(header);
        string path = FilePath("sparse.safetensors");
        using (var f = new FileStream(path, FileMode.Create))
        {
            var prefix = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)h.Length);
            f.Write(prefix);
            f.Write(h);
            f.SetLength(8 + h.Length + big + 8);
            f.Position = 8 + h.Length + big;
            f.Write(BitConverter.GetBytes(1.5f));
            f.Write(BitConverter.GetBytes(-2f));
        }
        using var st = Checkpoint.Open(path);
        Assert.That(st.Read("after").ToFloat32(), Is.EqualTo(new[] { 1.5f, -2f }));
        Assert.That(Assert.Throws<InvalidDataException>(() => st.Read("huge"))!.Message, Does.Contain("too large for one host buffer"));
    }

    /// <summary>An in-memory source for the key-check test.</summary>
    sealed class ListSource(IReadOnlyList<TensorInfo> tensors) : ITensorSource
    {
        public IReadOnlyList<TensorInfo> Tensors => tensors;
        public HostTensor Read(string name) => throw new NotSupportedException();
        public void Dispose() { }
    }
}
