using T2X.Vulkan.Kernels;

namespace T2X.Vulkan.Weights;

/// <summary>
/// Named weights on the device, packed into a few large buffers (one allocation per buffer, not per tensor),
/// each tensor aligned for use as a storage-buffer range. A tensor larger than maxStorageBufferRange gets a
/// buffer of its own; kernels that read such tensors split their work or read through texel views.
/// </summary>
public sealed class DeviceWeights : IDisposable
{
    readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);
    readonly List<GpuBuffer> _buffers = [];

    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    public Tensor this[string name] => _tensors.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"weight '{name}' was not loaded");

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public long Bytes => _buffers.Sum(b => (long)b.Size);

    /// <summary>Uploads the given tensors (read one at a time from the source), converting each to the dtype
    /// chosen by <paramref name="dtypeOf"/> (null keeps the stored dtype). Tensors that <paramref name="gemmWeight"/>
    /// names, read only as a GEMM's w ([N, K], or [N, …] read as [N, K] like a convolution's [Cout, taps…, Cin]), are
    /// stored in <see cref="GemmPanels"/> on devices whose GEMM reads those (CPU devices) when their shape is whole
    /// panels (<see cref="GemmPanels.Fits"/>); the rest stay row-major. <paramref name="reuse"/>: weights this upload
    /// replaces (disposed here either way); when they were planned into buffers of the same sizes, as a streamed model's
    /// blocks of one shape are, their buffers are written again instead of allocating fresh memory, whose first touch
    /// costs a page fault and a zeroed page per 4 KiB.</summary>
    public static DeviceWeights Upload(Gpu gpu, IEnumerable<(string name, Func<HostTensor> read, DType storedType, long[] shape)> tensors,
        Func<string, DType?>? dtypeOf = null, Func<string, bool>? gemmWeight = null, DeviceWeights? reuse = null)
    {
        try
        {
            bool panels = gemmWeight is not null && Gemm.ChosenVariant(gpu.Info) == Gemm.Variant.Texel;
            var list = tensors.ToList();
            var (plan, sizes) = Plan(gpu, list, dtypeOf);
            var w = new DeviceWeights();
            if (reuse is not null && reuse._buffers.Select(b => b.Size).SequenceEqual(sizes))
            {
                w._buffers.AddRange(reuse._buffers);
                reuse._buffers.Clear();
            }
            reuse?.Dispose();   // before allocating, so replaced weights of another plan never sit beside the new ones
            try
            {
                for (int b = 0; b < plan.Count; b++)
                {
                    if (b == w._buffers.Count) w._buffers.Add(new GpuBuffer(gpu, sizes[b]));
                    var buffer = w._buffers[b];
                    foreach (var (index, offset) in plan[b])
                    {
                        var (name, read, stored, shape) = list[index];
                        var host = read();
                        var dt = dtypeOf?.Invoke(name) ?? stored;
                        if (host.DType != dt) host = host.To(dt);
                        if (!host.Shape.SequenceEqual(shape))
                            throw new InvalidDataException($"weight '{name}': read shape [{string.Join(",", host.Shape)}], expected [{string.Join(",", shape)}]");
                        long rows = shape.Length >= 2 ? shape[0] : 0, columns = rows > 0 ? host.Elements / rows : 0;   // [N, K…] as [N, K]
                        if (panels && GemmPanels.Fits(dt, rows, columns) && gemmWeight!(name))
                            w._tensors[name] = GemmPanels.Write(buffer, offset, host);
                        else
                        {
                            buffer.Upload(host.Bytes, offset);
                            w._tensors[name] = new Tensor(buffer, offset, dt, shape);
                        }
                    }
                }
            }
            catch
            {
                w.Dispose();
                throw;
            }
            return w;
        }
        finally { reuse?.Dispose(); }   // on every path, also when planning throws (a second Dispose frees nothing)
    }

    /// <summary>Which buffer each tensor goes to and at what offset: consecutive tensors share a buffer until it would
    /// pass the device's binding range (at most 256 MiB).</summary>
    static (List<List<(int index, ulong offset)>> plan, List<ulong> sizes) Plan(Gpu gpu,
        List<(string name, Func<HostTensor> read, DType storedType, long[] shape)> list, Func<string, DType?>? dtypeOf)
    {
        ulong maxBuffer = Math.Min(gpu.Info.MaxStorageBufferRange, 256ul << 20);
        var plan = new List<List<(int index, ulong offset)>>();
        var sizes = new List<ulong>();
        ulong used = 0;
        for (int i = 0; i < list.Count; i++)
        {
            var dt = dtypeOf?.Invoke(list[i].name) ?? list[i].storedType;
            long n = 1; foreach (var d in list[i].shape) n *= d;
            ulong bytes = (ulong)(n * dt.Size());
            ulong start = DeviceInfo.PackedBytes(used);
            if (plan.Count == 0 || start + bytes > maxBuffer && used > 0)
            {
                if (plan.Count > 0) sizes.Add(used);
                plan.Add([]);
                start = 0;
            }
            plan[^1].Add((i, start));
            used = start + bytes;
        }
        if (plan.Count > 0) sizes.Add(used);
        return (plan, sizes);
    }

    /// <summary>Uploads in-memory tensors.</summary>
    public static DeviceWeights Upload(Gpu gpu, IEnumerable<KeyValuePair<string, HostTensor>> tensors, Func<string, DType?>? dtypeOf = null,
        Func<string, bool>? gemmWeight = null, DeviceWeights? reuse = null)
        => Upload(gpu, tensors.Select(kv => (kv.Key, (Func<HostTensor>)(() => kv.Value), kv.Value.DType, kv.Value.Shape)), dtypeOf, gemmWeight, reuse);

    /// <summary>Uploads the named tensors of a checkpoint.</summary>
    public static DeviceWeights Upload(Gpu gpu, ITensorSource source, IEnumerable<string> names, Func<string, DType?>? dtypeOf = null)
    {
        var infos = source.Tensors.ToDictionary(t => t.Name);
        return Upload(gpu, names.Select(n =>
        {
            var info = infos.TryGetValue(n, out var i) ? i : throw new KeyNotFoundException($"checkpoint has no tensor '{n}'");
            return (n, (Func<HostTensor>)(() => source.Read(n)), info.DType, info.Shape);
        }), dtypeOf);
    }

    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
        _buffers.Clear();
        _tensors.Clear();
    }
}
