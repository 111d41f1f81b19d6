using T2X.Vulkan.Files;

namespace T2X.Vulkan.Weights;

/// <summary>Writing torch.save archives (zip format, pickle protocol 2), as PyTorch itself writes them.</summary>
public sealed partial class TorchCheckpoint
{
    /// <summary>A tensor to write as a strided view of one of the storages (null strides: contiguous).</summary>
    public sealed record TorchView(int Storage, long Offset, long[] Shape, long[]? Strides = null);

    /// <summary>Writes tensors as torch.save would write a state_dict (an OrderedDict), optionally nested under a
    /// top-level "state_dict" or "model" key. torch.load reads the result. An existing file is replaced only with
    /// <paramref name="overwrite"/> (<see cref="AtomicFile"/>).</summary>
    public static void Write(string path, IEnumerable<(string name, HostTensor tensor)> tensors, string? wrapper = null, bool overwrite = false)
    {
        var (infos, read) = Checkpoint.Announce(tensors);
        Write(path, infos, read, wrapper, overwrite);
    }

    /// <summary>Writes tensors that are read one at a time (so a checkpoint larger than memory can be converted).</summary>
    public static void Write(string path, IReadOnlyList<TensorInfo> tensors, Func<TensorInfo, HostTensor> read, string? wrapper = null, bool overwrite = false)
    {
        if (wrapper is not (null or "state_dict" or "model")) throw new ArgumentException($"wrapper '{wrapper}': expected null, \"state_dict\" or \"model\"");
        Checkpoint.RequireUniqueNames(tensors);
        var stateDict = tensors.Select((t, i) => new KeyValuePair<string, object?>(t.Name, new TorchView(i, 0, t.Shape))).ToList();
        var root = wrapper is null ? stateDict : [new(wrapper, stateDict)];
        WriteArchive(path, root, tensors.Select(t => (t.DType, t.Elements)).ToList(), i => Checkpoint.AsAnnounced(tensors[i], read(tensors[i])), overwrite);
    }

    /// <summary>
    /// Writes any tree of dicts (lists of key/value pairs, written as OrderedDicts) whose leaves are
    /// <see cref="TorchView"/>s of the given storages, or plain values (string, long, int, double, bool, null).
    /// Several views may share a storage, with offsets and arbitrary strides, as torch.save writes views.
    /// </summary>
    public static void WriteTree(string path, IReadOnlyList<KeyValuePair<string, object?>> root, IReadOnlyList<HostTensor> storages, bool overwrite = false)
        => WriteArchive(path, root, storages.Select(s => (s.DType, s.Elements)).ToList(), i => storages[i], overwrite);

    static readonly Dictionary<DType, string> StorageNames = new()
    {
        [DType.F32] = "FloatStorage", [DType.F16] = "HalfStorage", [DType.BF16] = "BFloat16Storage",
        [DType.I32] = "IntStorage", [DType.I64] = "LongStorage", [DType.U8] = "ByteStorage",
    };

    static void WriteArchive(string path, IReadOnlyList<KeyValuePair<string, object?>> root,
        IReadOnlyList<(DType dtype, long elements)> storages, Func<int, HostTensor> storageData, bool overwrite)
    {
        var pickle = new PickleWriter();
        WriteValue(pickle, root, storages, 0);
        var pkl = pickle.Finish();
        AtomicFile.Write(path, stream =>
        {
            var zip = new ZipWriter(stream);
            const string folder = "archive/";
            zip.Add(folder + "data.pkl", pkl);
            zip.Add(folder + "byteorder", "little"u8);
            for (int i = 0; i < storages.Count; i++)
            {
                var data = storageData(i);
                if (data.DType != storages[i].dtype || data.Elements != storages[i].elements)
                    throw new ArgumentException($"storage {i} was announced as {storages[i].elements} {storages[i].dtype} elements but holds {data}");
                zip.Add($"{folder}data/{i}", data.Bytes);
            }
            zip.Add(folder + "version", "3\n"u8);
            zip.Finish();
        }, overwrite);
    }

    static void WriteValue(PickleWriter p, object? value, IReadOnlyList<(DType dtype, long elements)> storages, int depth)
    {
        if (depth > MaxDepth) throw new ArgumentException($"dicts nested deeper than {MaxDepth} levels");
        switch (value)
        {
            case null: p.None(); break;
            case string s: p.Str(s); break;
            case bool b: p.Bool(b); break;
            case int i: p.Int(i); break;
            case long l: p.Int(l); break;
            case double d: p.Float(d); break;
            case IReadOnlyList<KeyValuePair<string, object?>> dict:
                p.Global("collections", "OrderedDict");
                p.Tuple(0);
                p.Op('R');
                for (int start = 0; start < dict.Count; start += 1000)
                {
                    p.Mark();
                    for (int i = start; i < Math.Min(dict.Count, start + 1000); i++)
                    {
                        p.Str(dict[i].Key);
                        WriteValue(p, dict[i].Value, storages, depth + 1);
                    }
                    p.Op('u');
                }
                break;
            case TorchView v: WriteTensor(p, v, storages); break;
            default: throw new ArgumentException($"cannot write a {value.GetType().Name} into a torch checkpoint");
        }
    }

    static void WriteTensor(PickleWriter p, TorchView v, IReadOnlyList<(DType dtype, long elements)> storages)
    {
        if (v.Storage < 0 || v.Storage >= storages.Count) throw new ArgumentException($"view of storage {v.Storage}, but there are {storages.Count}");
        var (dtype, numel) = storages[v.Storage];
        var strides = v.Strides ?? RowMajorStrides(v.Shape);
        if (strides.Length != v.Shape.Length) throw new ArgumentException("view strides and shape differ in rank");
        long last = v.Offset, elements = 1;
        for (int i = 0; i < v.Shape.Length; i++) { last += (v.Shape[i] - 1) * strides[i]; elements *= v.Shape[i]; }
        if (v.Offset < 0 || elements > 0 && last >= numel)
            throw new ArgumentException($"view [{string.Join(",", v.Shape)}] at offset {v.Offset} reaches past storage {v.Storage} ({numel} elements)");

        p.Global("torch._utils", "_rebuild_tensor_v2");
        p.Mark();
        p.Mark();                                   // persistent id ('storage', type, key, 'cpu', numel)
        p.Str("storage");
        p.Global("torch", StorageNames[dtype]);
        p.Str(v.Storage.ToString(System.Globalization.CultureInfo.InvariantCulture));
        p.Str("cpu");
        p.Int(numel);
        p.Op('t');
        p.Op('Q');
        p.Int(v.Offset);
        p.IntTuple(v.Shape);
        p.IntTuple(strides);
        p.Bool(false);                              // requires_grad
        p.Global("collections", "OrderedDict");     // backward hooks
        p.Tuple(0);
        p.Op('R');
        p.Op('t');
        p.Op('R');
    }

    static long[] RowMajorStrides(long[] shape)
    {
        var s = new long[shape.Length];
        long n = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = n; n *= shape[i]; }
        return s;
    }
}
