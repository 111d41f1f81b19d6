using System.Buffers.Binary;
using System.Text.Json;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Weights;

/// <summary>Opens checkpoints of any supported format, chosen by content, not by file name.</summary>
public static class Checkpoint
{
    /// <summary>The most tensors one file may hold (released checkpoints hold a few thousand): a header that lists
    /// millions is refused before they take memory.</summary>
    public const int MaxTensors = 1 << 17;

    /// <summary>Opens a .safetensors file, a torch.save zip (.pt/.pth/.ckpt/.bin), or a
    /// <c>*.index.json</c> whose weight_map points at shards of either kind.</summary>
    public static ITensorSource Open(string path) => Open(path, allowIndex: true);

    /// <summary>Runs <see cref="ITensorSource.Prefetch"/> for these tensors (taken now, hinted in the source's file order)
    /// on a background thread, because the hints wait while the disk's queue is full; returns at once. A loader calls it
    /// before reading, so the disk reads ahead while the host converts and uploads what came before.</summary>
    public static void PrefetchInBackground(this ITensorSource source, IEnumerable<string> names)
    {
        var wanted = names.ToHashSet(StringComparer.Ordinal);
        var ordered = source.Tensors.Select(t => t.Name).Where(wanted.Contains).ToArray();
        Task.Run(() => source.Prefetch(ordered));
    }

    static ITensorSource Open(string path, bool allowIndex)
    {
        if (Directory.Exists(path)) return OpenFolder(path);
        return Sniff(path) switch
        {
            Format.SafeTensors => SafeTensors.Open(path),
            Format.Torch => TorchCheckpoint.Open(path),
            Format.Index => allowIndex ? ShardedCheckpoint.Open(path)
                                       : throw new InvalidDataException($"{path}: a shard named by an index is itself an index json"),
            _ => throw new InvalidDataException($"{path}: not a checkpoint: expected a safetensors file, a torch.save zip archive or an index json"),
        };
    }

    enum Format { Unknown, SafeTensors, Torch, Index }

    /// <summary>The format of a checkpoint file, told by its first bytes.</summary>
    static Format Sniff(string path)
    {
        Span<byte> head = stackalloc byte[16];
        int n;
        using (var f = InputFile.OpenHandle(path))
            n = RandomAccess.Read(f, head, 0);
        head = head[..n];
        if (n >= 9 && BinaryPrimitives.ReadUInt64LittleEndian(head) is > 1 and <= 100_000_000 && head[8] == '{')
            return Format.SafeTensors;
        bool zip = n >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 && head[3] == 4 || head[2] == 5 && head[3] == 6);
        bool legacy = n >= 4 && head[0] == 0x80 && head[1] <= 5 && head[2] == 0x8a && head[3] == 0x0a;  // the pickled magic number
        if (zip || legacy) return Format.Torch;
        int first = head.IndexOfAnyExcept(" \t\r\n"u8);
        return first >= 0 && head[first] == '{' ? Format.Index : Format.Unknown;
    }

    /// <summary>In-memory tensors in the (announced list, reader) form the streaming writers take; names must be unique.</summary>
    internal static (IReadOnlyList<TensorInfo> infos, Func<TensorInfo, HostTensor> read) Announce(IEnumerable<(string name, HostTensor tensor)> tensors)
    {
        var list = tensors.ToList();
        var byName = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in list)
            if (!byName.TryAdd(name, tensor)) throw new ArgumentException($"tensor name '{name}' given twice");
        return (list.Select(t => new TensorInfo(t.name, t.tensor.DType, t.tensor.Shape)).ToList(), info => byName[info.Name]);
    }

    internal static void RequireUniqueNames(IReadOnlyList<TensorInfo> tensors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor name '{t.Name}' given twice");
    }

    /// <summary>Checks that a streamed tensor is what was announced for it (the header was written from the announcement).</summary>
    internal static HostTensor AsAnnounced(TensorInfo info, HostTensor host)
        => host.DType == info.DType && host.Shape.SequenceEqual(info.Shape) ? host
         : throw new ArgumentException($"tensor '{info.Name}' was announced as {info.DType}[{string.Join(",", info.Shape)}] but read as {host}");

    static readonly string[] WeightExtensions = [".safetensors", ".pt", ".pth", ".ckpt", ".bin"];

    /// <summary>
    /// Finds the weights in a model folder, in the order Hugging Face loaders try: a safetensors index json
    /// (<c>*.safetensors.index.json</c>, <c>*.safetensors.index.*.json</c>) with its shards, the single *.safetensors,
    /// another index json (<c>pytorch_model.bin.index.json</c>), the single *.pt/*.pth/*.ckpt/*.bin.
    /// <paramref name="pattern"/> (a file name pattern such as "diffusion_pytorch_model*") narrows the search.
    /// It is an error when there are none, or several candidates of the same kind.
    /// </summary>
    public static ITensorSource OpenFolder(string dir, string pattern = "*") => Open(FindWeights(dir, pattern));

    /// <summary>The weights file <see cref="OpenFolder"/> opens in <paramref name="dir"/> (an index json or a single
    /// checkpoint), by the same rules and with the same errors.</summary>
    public static string FindWeights(string dir, string pattern = "*")
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model folder '{dir}' does not exist");
        var files = Directory.GetFiles(dir, pattern).Select(System.IO.Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        bool IsIndex(string f) => f.EndsWith(".json", StringComparison.Ordinal) && f.Contains(".index.", StringComparison.Ordinal);
        string[][] kinds =
        [
            files.Where(f => IsIndex(f) && f.Contains(".safetensors.", StringComparison.Ordinal)).ToArray(),
            files.Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal)).ToArray(),
            files.Where(IsIndex).Where(f => !f.Contains(".safetensors.", StringComparison.Ordinal)).ToArray(),
            files.Where(f => WeightExtensions.Skip(1).Any(e => f.EndsWith(e, StringComparison.Ordinal))).ToArray(),
        ];
        foreach (var kind in kinds)
        {
            if (kind.Length == 1) return System.IO.Path.Combine(dir, kind[0]);
            if (kind.Length > 1)
                throw new InvalidDataException($"model folder '{dir}' holds several candidate weight files ({string.Join(", ", kind)}); keep one, or name the file");
        }
        throw new InvalidDataException($"model folder '{dir}' holds no weights (looked for {pattern} ending in *.index.json, " +
                                       $"{string.Join(", ", WeightExtensions.Select(e => "*" + e))})");
    }

    /// <summary>The files a checkpoint consists of: the file itself, and for an index json also every shard its weight_map
    /// names (in order of first mention, whether or not it exists).</summary>
    public static IReadOnlyList<string> FilesOf(string path)
    {
        if (Sniff(path) != Format.Index) return [path];
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        return ShardedCheckpoint.ReadWeightMap(path).Select(m => m.shard).Distinct(StringComparer.Ordinal)
            .Select(s => System.IO.Path.Combine(dir, ShardedCheckpoint.PlainName(path, s))).Prepend(path).ToList();
    }

    /// <summary>A sharded checkpoint: an index json whose "weight_map" names the shard file of every tensor.</summary>
    sealed class ShardedCheckpoint : ITensorSource
    {
        readonly List<ITensorSource> _shards = [];
        readonly Dictionary<string, ITensorSource> _shardOf = new(StringComparer.Ordinal);
        public IReadOnlyList<TensorInfo> Tensors { get; private set; } = [];

        /// <summary>The (tensor name, shard file name) pairs of an index json's weight_map, in file order.</summary>
        public static List<(string name, string shard)> ReadWeightMap(string indexPath)
        {
            var map = new List<(string name, string shard)>();
            try
            {
                using var doc = JsonDocument.Parse(InputFile.ReadAllBytes(indexPath, InputFile.MaxJsonBytes), new JsonDocumentOptions { MaxDepth = 16 });
                if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{indexPath}: index json has no \"weight_map\" object");
                foreach (var p in wm.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{indexPath}: weight_map entry '{p.Name}' is not a file name");
                    map.Add((p.Name, p.Value.GetString()!));
                }
            }
            catch (JsonException e) { throw new InvalidDataException($"{indexPath}: not valid JSON ({e.Message})"); }
            return map;
        }

        /// <summary>A shard name from an index, checked to be a plain file name in the index's folder.</summary>
        public static string PlainName(string indexPath, string shard) =>
            shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or ".."
                ? throw new InvalidDataException($"{indexPath}: shard '{shard}' is not a plain file name in the index's folder")
                : shard;

        public static ShardedCheckpoint Open(string indexPath)
        {
            var map = ReadWeightMap(indexPath);
            string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
            var result = new ShardedCheckpoint();
            try
            {
                var opened = new Dictionary<string, ITensorSource>(StringComparer.Ordinal);
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (name, shard) in map)
                {
                    if (!seen.Add(name)) throw new InvalidDataException($"{indexPath}: weight_map names '{name}' twice");
                    if (!opened.TryGetValue(shard, out var source))
                    {
                        string shardPath = System.IO.Path.Combine(dir, PlainName(indexPath, shard));
                        if (!File.Exists(shardPath)) throw new InvalidDataException($"{indexPath}: shard '{shard}' (for '{name}') does not exist");
                        source = Checkpoint.Open(shardPath, allowIndex: false);
                        opened[shard] = source;
                        result._shards.Add(source);
                    }
                    result._shardOf[name] = source;
                }
                // Tensors in storage order: shards in order of first mention, each in its own order.
                var tensors = new List<TensorInfo>();
                foreach (var source in result._shards)
                    tensors.AddRange(source.Tensors.Where(t => result._shardOf.TryGetValue(t.Name, out var s) && s == source));
                if (tensors.Count != map.Count)
                {
                    var present = tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
                    var missing = map.Where(m => !present.Contains(m.name)).Take(10).Select(m => $"'{m.name}' (in {m.shard})");
                    throw new InvalidDataException($"{indexPath}: {map.Count - tensors.Count} tensors of the weight_map are not in their shards: {string.Join(", ", missing)}");
                }
                result.Tensors = tensors;
                return result;
            }
            catch
            {
                result.Dispose();
                throw;
            }
        }

        public HostTensor Read(string name)
            => _shardOf.TryGetValue(name, out var s) ? s.Read(name) : throw new KeyNotFoundException($"no tensor '{name}' in the weight_map");

        public void Prefetch(IEnumerable<string> names)
        {
            foreach (var group in names.Where(_shardOf.ContainsKey).GroupBy(n => _shardOf[n]))
                group.Key.Prefetch(group);
        }

        public void Dispose()
        {
            foreach (var s in _shards) s.Dispose();
            _shards.Clear();
        }
    }
}
