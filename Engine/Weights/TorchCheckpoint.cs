using System.Text;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Weights;

/// <summary>
/// A PyTorch checkpoint written by torch.save, read without Python and without running anything: the pickle is
/// interpreted by a restricted reader that knows only tensors, storages, dicts and plain values. Nothing named in
/// the pickle is ever called: names from modules such as os, posix, subprocess, builtins or torch (beyond its tensor
/// and storage types) are refused outright; objects of other classes (Megatron's argparse.Namespace "args", numpy
/// arrays in an "rng_state") are inert placeholders, accepted beside the weights and refused by name inside them. Both formats of torch.save are read: the zip archive (PyTorch 1.6 and later:
/// <c>&lt;folder&gt;/data.pkl</c> plus one <c>&lt;folder&gt;/data/&lt;key&gt;</c> entry per storage) and the legacy
/// stream (pickles for the magic number, version, system info, the object and the storage keys, then each
/// storage's bytes). Opening reads the pickles; tensor data is read per tensor, on demand.
/// <para>The state dict is found as the official loader finds it: a top-level "model" dict, else a top-level
/// "state_dict" dict, else the top level itself. Nested dicts below it give dotted names; entries that are not
/// tensors or dicts (epoch counters, strings, lists) are ignored.</para>
/// </summary>
public sealed partial class TorchCheckpoint : ITensorSource
{
    delegate void ReadBytes(long offset, Span<byte> destination);
    /// <summary>Hints that a byte range of a storage will be read soon (<see cref="ReadAhead"/>).</summary>
    delegate void HintBytes(long offset, long count);
    /// <summary>A storage: a flat array of elements of one dtype, read on demand.</summary>
    sealed record Storage(string Key, DType DType, long Elements, ReadBytes Read, HintBytes Hint);
    /// <summary>A tensor as the pickle describes it: a strided view of a storage.</summary>
    sealed record TensorRef(Storage Storage, long Offset, long[] Shape, long[] Strides);

    readonly IDisposable _file;
    readonly Dictionary<string, TensorRef> _views = new(StringComparer.Ordinal);
    public string Path { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }
    /// <summary>The key the weights were found under ("model", "state_dict") or null for the top level.</summary>
    public string? Wrapper { get; }
    /// <summary>True for the legacy (pre-1.6) stream format.</summary>
    public bool Legacy { get; }

    const long MaxPickleBytes = 256L << 20;
    const int MaxDepth = 64;
    const int MaxRank = 16;

    TorchCheckpoint(string path)
    {
        Path = path;
        Span<byte> magic = stackalloc byte[4];
        var handle = InputFile.OpenHandle(path);
        _file = handle;
        try
        {
            int n = RandomAccess.Read(handle, magic, 0);
            object? root;
            if (n == 4 && magic[0] == 'P' && magic[1] == 'K')
            {
                handle.Dispose();
                var zip = new ZipReader(path);
                _file = zip;
                root = LoadZip(zip);
            }
            else
            {
                Legacy = true;
                root = LoadLegacy(handle);
            }
            if (root is PyForeign foreign) throw Bad(Handler.NotAllowed(foreign.Name));
            if (root is not PyDict top)
                throw Bad($"the pickled object is a {PickleReader.Describe(root)}, expected a dict of tensors (a state_dict)");
            var dict = top;
            foreach (var wrapper in new[] { "model", "state_dict" })
                if (top.Get(wrapper) is PyDict inner) { dict = inner; Wrapper = wrapper; break; }
            var infos = new List<TensorInfo>();
            int visits = 0;
            Flatten(dict, "", 0, infos, ref visits);
            Tensors = infos;
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    public static TorchCheckpoint Open(string path) => new(path);

    object? LoadZip(ZipReader zip)
    {
        var pickles = zip.Entries.Where(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal) && e.Name.IndexOf('/') == e.Name.Length - 9).ToList();
        if (pickles.Count != 1)
            throw Bad(pickles.Count == 0 ? "no '<folder>/data.pkl' entry: not a torch.save archive" : $"{pickles.Count} data.pkl entries");
        string folder = pickles[0].Name[..^"data.pkl".Length];
        var byteorder = zip.Find(folder + "byteorder");
        if (byteorder is not null && Encoding.ASCII.GetString(zip.ReadAll(byteorder, 16)) != "little")
            throw Bad("the archive was written on a big-endian machine; only little-endian data is supported");
        var handler = new Handler(this, legacy: false, (key, dtype, numel, typeName) =>
        {
            var entry = zip.Find($"{folder}data/{key}") ?? throw Bad($"storage '{key}' has no entry '{folder}data/{key}'");
            if (entry.Size != numel * dtype.Size())
                throw Bad($"storage '{key}' is declared as {numel} {typeName} elements but its entry holds {entry.Size} bytes");
            return ((offset, destination) => zip.Read(entry, offset, destination), (offset, count) => zip.Hint(entry, offset, count));
        });
        return PickleReader.Load(zip.ReadAll(pickles[0], MaxPickleBytes), $"{Path}: {pickles[0].Name}", handler);
    }

    /// <summary>The legacy magic number 0x1950a86a20f9469cfc6c, pickled as a 10-byte LONG1.</summary>
    static readonly byte[] LegacyMagic = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.'];

    object? LoadLegacy(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        long length = RandomAccess.GetLength(file);
        // The pickles come first and are small; read a growing prefix until they fit, never the storages' bytes.
        for (long size = 1 << 20; ; size *= 4)
        {
            var prefix = new byte[Math.Min(length, Math.Min(size, MaxPickleBytes))];
            ReadExactly(file, prefix, 0);
            var dataOffsets = new Dictionary<string, long>(StringComparer.Ordinal);
            var used = new Dictionary<string, (DType dtype, long numel)>(StringComparer.Ordinal);
            var handler = new Handler(this, legacy: true, (key, dtype, numel, _) =>
            {
                used[key] = (dtype, numel);
                return ((offset, destination) => ReadExactly(file, destination, dataOffsets[key] + offset),
                        (offset, count) => ReadAhead.Hint(file, dataOffsets[key] + offset, count));
            });
            object? root;
            int pos;
            try
            {
                if (prefix.Length < 2 + LegacyMagic.Length || prefix[0] != 0x80 || !prefix.AsSpan(2, LegacyMagic.Length).SequenceEqual(LegacyMagic))
                    throw Bad("not a torch.save file: neither a zip archive nor the legacy format's magic number");
                pos = 2 + LegacyMagic.Length;
                string source = $"{Path} (legacy torch.save)";
                if (PickleReader.Load(prefix, ref pos, source, handler) is not 1001L) throw Bad("legacy torch.save protocol version is not 1001");
                if (PickleReader.Load(prefix, ref pos, source, handler) is PyDict { } info && info.Get("little_endian") is false)
                    throw Bad("the file was written on a big-endian machine; only little-endian data is supported");
                root = PickleReader.Load(prefix, ref pos, source, handler);
                if (PickleReader.Load(prefix, ref pos, source, handler) is not List<object?> keys) throw Bad("legacy storage key list is missing");
                // Then each storage: its element count (int64) and its bytes, in the order of the key list.
                long at = pos;
                Span<byte> count = stackalloc byte[8];
                foreach (var k in keys)
                {
                    if (k is not string key || !used.TryGetValue(key, out var s) || dataOffsets.ContainsKey(key))
                        throw Bad($"legacy storage key list holds {PickleReader.Describe(k)} '{k}', which no tensor uses (or twice)");
                    if (at > length - 8) throw Bad($"storage '{key}' starts past the end of the file (truncated?)");
                    ReadExactly(file, count, at);
                    long numel = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(count);
                    if (numel != s.numel) throw Bad($"storage '{key}' holds {numel} elements, but the pickle says {s.numel}");
                    dataOffsets[key] = at + 8;
                    at += 8 + numel * s.dtype.Size();
                    if (at > length) throw Bad($"storage '{key}' runs past the end of the file (truncated?)");
                }
                if (used.Keys.FirstOrDefault(k => !dataOffsets.ContainsKey(k)) is { } missing) throw Bad($"storage '{missing}' has no data");
                if (at != length) throw Bad($"{length - at} bytes after the last storage");
                return root;
            }
            catch (InvalidDataException e) when (PickleReader.IsTruncation(e) && prefix.Length < length && prefix.Length < MaxPickleBytes)
            {
                // The pickles may continue past the prefix: try a longer one.
            }
        }
    }

    void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle file, Span<byte> destination, long offset)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(file, destination[done..], offset + done);
            if (n == 0) throw Bad("file ended early (truncated?)");
            done += n;
        }
    }

    InvalidDataException Bad(string problem) => new($"{Path}: {problem}");

    void Flatten(PyDict dict, string prefix, int depth, List<TensorInfo> infos, ref int visits)
    {
        if (depth > MaxDepth) throw Bad($"dicts nested deeper than {MaxDepth} levels under '{prefix}'");
        foreach (var (key, value) in dict.Items)
        {
            if (++visits > 2_000_000) throw Bad("more than 2 million dict entries (shared or cyclic nesting?)");
            string name = prefix + (key is string s ? s : key.ToString());
            if (value is TensorRef t)
            {
                if (!_views.TryAdd(name, t)) throw Bad($"tensor name '{name}' occurs twice");
                if (infos.Count == Checkpoint.MaxTensors) throw Bad($"more than {Checkpoint.MaxTensors} tensors");
                infos.Add(new TensorInfo(name, t.Storage.DType, t.Shape));
            }
            else if (value is PyDict inner) Flatten(inner, name + ".", depth + 1, infos, ref visits);
            else if (value is PyForeign foreign) throw Bad($"weight '{name}' cannot be read: it is {foreign.Detail ?? $"an object of {foreign.Name}"}");
        }
    }

    public HostTensor Read(string name)
    {
        if (!_views.TryGetValue(name, out var v)) throw new KeyNotFoundException($"{Path}: no tensor '{name}'");
        int size = v.Storage.DType.Size();
        long elements = 1;
        foreach (var d in v.Shape) elements *= d;
        if (elements > Array.MaxLength / size) throw Bad($"tensor '{name}' ({elements * size} bytes) is too large for one host buffer");
        var bytes = new byte[elements * size];
        if (elements == 0) return new HostTensor(v.Storage.DType, v.Shape, bytes);
        if (IsContiguous(v.Shape, v.Strides))
        {
            v.Storage.Read(v.Offset * size, bytes);
            return new HostTensor(v.Storage.DType, v.Shape, bytes);
        }
        // A strided view: read the storage range it touches, then gather element by element.
        long spanBytes = SpanElements(v) * size;
        if (spanBytes > Array.MaxLength) throw Bad($"tensor '{name}' is a view spanning {spanBytes} bytes of its storage, too large to gather");
        var span = new byte[spanBytes];
        v.Storage.Read(v.Offset * size, span);
        var index = new long[v.Shape.Length];
        for (long e = 0; e < elements; e++)
        {
            long src = 0;
            for (int i = 0; i < index.Length; i++) src += index[i] * v.Strides[i];
            Buffer.BlockCopy(span, (int)(src * size), bytes, (int)(e * size), size);
            for (int i = index.Length - 1; i >= 0 && ++index[i] == v.Shape[i]; i--) index[i] = 0;
        }
        return new HostTensor(v.Storage.DType, v.Shape, bytes);
    }

    public void Prefetch(IEnumerable<string> names)
    {
        foreach (var name in names)
            if (_views.TryGetValue(name, out var v) && v.Shape.All(d => d > 0))
                v.Storage.Hint(v.Offset * v.Storage.DType.Size(), SpanElements(v) * v.Storage.DType.Size());
    }

    /// <summary>Elements of the storage range a view touches, from its first element to its last (no dimension 0).</summary>
    static long SpanElements(TensorRef v)
    {
        long last = 0;
        for (int i = 0; i < v.Shape.Length; i++) last += (v.Shape[i] - 1) * v.Strides[i];
        return last + 1;
    }

    /// <summary>Row-major contiguous, ignoring the strides of dimensions of size 1 (as torch does).</summary>
    static bool IsContiguous(long[] shape, long[] strides)
    {
        long expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] != 1 && strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    public void Dispose() => _file.Dispose();

    /// <summary>Finds the bytes of a storage named by a persistent id: (key, dtype, element count, type name).</summary>
    delegate (ReadBytes read, HintBytes hint) StorageData(string key, DType dtype, long numel, string typeName);

    /// <summary>What the restricted unpickler may see: torch's tensor rebuild functions, storage types and OrderedDict.</summary>
    sealed class Handler(TorchCheckpoint owner, bool legacy, StorageData storageData) : PickleReader.IHandler
    {
        readonly Dictionary<string, Storage> _storages = new(StringComparer.Ordinal);

        static readonly Dictionary<string, DType> StorageTypes = new()
        {
            ["FloatStorage"] = DType.F32, ["HalfStorage"] = DType.F16, ["BFloat16Storage"] = DType.BF16,
            ["IntStorage"] = DType.I32, ["LongStorage"] = DType.I64, ["ByteStorage"] = DType.U8,
            ["BoolStorage"] = DType.U8, ["UntypedStorage"] = DType.U8,
        };

        static readonly HashSet<string> Allowed =
        [
            "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
            "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch.Size",
            "_codecs.encode",
        ];

        /// <summary>Modules whose names a checkpoint has no reason to mention: always refused, wherever they appear.</summary>
        static readonly HashSet<string> Refused =
        [
            "builtins", "__builtin__", "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy",
            "ctypes", "pickle", "marshal", "types", "code", "pty", "webbrowser", "io", "functools", "operator", "codecs", "torch",
        ];

        /// <summary>Plain data types of those modules that metadata beside the weights may hold.</summary>
        static readonly HashSet<string> InertBuiltins =
        [
            "builtins.set", "builtins.frozenset", "builtins.slice", "builtins.complex", "builtins.bytearray", "builtins.object",
            "torch.device", "torch.float64", "torch.float32", "torch.float16", "torch.bfloat16", "torch.int64", "torch.int32",
            "torch.int16", "torch.int8", "torch.uint8", "torch.bool", "torch.DoubleStorage", "torch.CharStorage", "torch.ShortStorage",
        ];

        public object Global(string module, string name)
        {
            string full = $"{module}.{name}";
            if (module == "torch" && StorageTypes.ContainsKey(name) || module == "torch.storage" && name == "UntypedStorage" || Allowed.Contains(full))
                return new PyGlobal(module, name);
            // Anything else is never called. Names from dangerous modules are refused outright; other classes
            // (Megatron's argparse.Namespace "args", numpy arrays in an "rng_state") become inert placeholders,
            // accepted beside the weights and refused inside them (see Flatten).
            // (Protocol 2 pickles name Python 3's builtins "__builtin__", for Python 2.)
            if (Refused.Contains(module.Split('.')[0]) && !InertBuiltins.Contains(module == "__builtin__" ? "builtins." + name : full))
                throw owner.Bad(NotAllowed(full));
            return new PyForeign(full);
        }

        public static string NotAllowed(string name)
            => $"the pickle refers to '{name}', which is not allowed: only tensors, storages and dicts are read, and nothing is ever executed";

        public object PersistentLoad(object? pid)
        {
            // ('storage', storage type, key, location, numel) as torch.save writes it; the legacy format adds
            // view metadata: None, or (view key, offset, size) for a storage that is a slice of another.
            if (pid is not object?[] t || t.Length != (legacy ? 6 : 5) || t[0] is not "storage" || t[1] is not (PyGlobal or PyForeign)
                || t[2] is not string key || t[3] is not string || t[4] is not long numel)
                throw owner.Bad($"persistent id is not ('storage', type, key, location, numel{(legacy ? ", view" : "")})");
            var type = t[1] as PyGlobal;
            if (t[1] is PyForeign foreign) return new PyForeign(foreign.Name, $"a tensor in a {foreign} (supported: {string.Join(", ", StorageTypes.Keys)})");
            if (type is null || !StorageTypes.TryGetValue(type.Name, out var dtype) || type.Module is not ("torch" or "torch.storage"))
                throw owner.Bad($"persistent id names {type}, which is not a storage type");
            if (numel < 0 || numel > long.MaxValue / 8) throw owner.Bad($"storage '{key}' has an absurd size {numel}");
            if (!_storages.TryGetValue(key, out var storage))
            {
                var (read, hint) = storageData(key, dtype, numel, type.Name);
                storage = new Storage(key, dtype, numel, read, hint);
                _storages[key] = storage;
            }
            if (storage.DType != dtype || storage.Elements != numel) throw owner.Bad($"storage '{key}' is used with two different types or sizes");
            if (!legacy || t[5] is null) return storage;
            if (t[5] is not object?[] { Length: 3 } view || view[0] is not string viewKey || view[1] is not long viewOffset || view[2] is not long viewSize
                || viewOffset < 0 || viewSize < 0 || viewOffset > numel - viewSize)
                throw owner.Bad($"storage view metadata of '{key}' is not (key, offset, size) within the storage");
            var root = storage;
            return new Storage(viewKey, dtype, viewSize, (offset, destination) => root.Read(viewOffset * dtype.Size() + offset, destination),
                (offset, count) => root.Hint(viewOffset * dtype.Size() + offset, count));
        }

        public object? Reduce(object? callable, object?[] args)
        {
            if (callable is PyForeign foreign) return foreign;       // an inert object of that class; nothing is called
            if (callable is not PyGlobal g) throw owner.Bad($"REDUCE of a {PickleReader.Describe(callable)}, which is not callable");
            switch (g.ToString())
            {
                case "collections.OrderedDict" when args.Length == 0: return new PyDict();
                case "torch._utils._rebuild_tensor_v2" when args.Length is 6 or 7:
                case "torch._utils._rebuild_tensor" when args.Length == 4:
                    return Tensor(args);
                case "torch._utils._rebuild_parameter" when args.Length == 3 && args[0] is TensorRef:
                case "torch._utils._rebuild_parameter_with_state" when args.Length == 4 && args[0] is TensorRef:
                    return args[0];
                case "torch.Size" when args.Length == 1 && args[0] is object?[] dims: return dims;
                case "_codecs.encode" when args.Length == 2 && args[0] is string s && args[1] is "latin1": return Encoding.Latin1.GetBytes(s);
                default:
                    throw owner.Bad($"call of {g} with {args.Length} arguments ({string.Join(", ", args.Select(PickleReader.Describe))}) is not understood");
            }
        }

        object Tensor(object?[] a)
        {
            if (a[0] is PyForeign unsupported) return unsupported;
            if (a[0] is not Storage storage) throw owner.Bad($"tensor rebuilt from a {PickleReader.Describe(a[0])}, expected a storage");
            if (a[1] is not long offset || a[2] is not object?[] size || a[3] is not object?[] stride || size.Length != stride.Length)
                throw owner.Bad("tensor rebuild arguments are not (storage, offset, size, stride, ...)");
            if (size.Length > MaxRank) throw owner.Bad($"tensor of rank {size.Length} (more than {MaxRank})");
            var shape = new long[size.Length];
            var strides = new long[size.Length];
            long elements = 1, last = offset;
            for (int i = 0; i < size.Length; i++)
            {
                if (size[i] is not long d || d < 0 || stride[i] is not long s || s < 0)
                    throw owner.Bad("tensor size or stride is not a list of non-negative integers");
                shape[i] = d;
                strides[i] = s;
                try
                {
                    elements = checked(elements * d);
                    if (d > 0) last = checked(last + (d - 1) * s);
                }
                catch (OverflowException) { throw owner.Bad($"tensor of shape [{string.Join(",", size)}] is absurdly large"); }
            }
            // Broadcast views (stride 0) can describe more elements than they store; allow that only for small
            // tensors, so a tiny hostile file cannot make a read allocate gigabytes.
            if (elements > storage.Elements && elements * storage.DType.Size() > 64 << 20)
                throw owner.Bad($"tensor [{string.Join(",", shape)}] repeats the {storage.Elements} elements of storage '{storage.Key}' into {elements}, which is not read");
            if (offset < 0 || elements > 0 && last >= storage.Elements)
                throw owner.Bad($"tensor [{string.Join(",", shape)}] at offset {offset} with strides [{string.Join(",", strides)}] reaches past its storage '{storage.Key}' of {storage.Elements} elements");
            return new TensorRef(storage, offset, shape, strides);
        }

        public object? Build(object? target, object? state)
        {
            // An OrderedDict state_dict carries its module versions as attributes (_metadata): not needed.
            if (target is PyDict or PyForeign) return target;
            throw owner.Bad($"BUILD of a {PickleReader.Describe(target)} is not understood");
        }
    }
}
