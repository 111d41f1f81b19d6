namespace T2X.Vulkan;

/// <summary>
/// The activations of one run, sub-allocated from a few buffers and freed together on Dispose: one device allocation
/// per buffer instead of one per tensor (some drivers allow only 4,096 allocations). Tensors are laid out in the order
/// they are asked for, each aligned for use as a storage-buffer range; consecutive tensors share a buffer until it
/// would pass the largest range one binding may cover, and a tensor larger than that gets a buffer of its own. Small
/// inputs the host rewrites between submissions come from a second, host-visible pool.
/// <para>A measuring arena (<see cref="Measuring"/>) lays tensors out the same way but allocates nothing: its
/// <see cref="Bytes"/> is what a run of the same calls would allocate, which is how memory plans are made. Its tensors
/// have no memory behind them (their <see cref="Tensor.Buffer"/> is null): record nothing with them.</para>
/// </summary>
public sealed class TensorArena : IDisposable
{
    /// <summary>The largest buffer a measuring arena without a device plans, as the weights' buffers are capped.</summary>
    const ulong MaxBufferBytes = 256ul << 20;

    readonly Gpu? _gpu;
    readonly ulong _maxBuffer;
    readonly Pool _device = new(hostVisible: false), _host = new(hostVisible: true);
    readonly TensorArena? _layout;   // the measured run this arena allocates for: its buffer sizes
    bool _disposed;

    TensorArena(Gpu? gpu, ulong maxBuffer, TensorArena? layout)
    {
        _gpu = gpu;
        _maxBuffer = maxBuffer;
        _layout = layout;
    }

    /// <summary>An arena that records the layout of the tensors asked for and allocates nothing.</summary>
    public static TensorArena Measuring(Gpu? gpu = null) => new(null, BufferLimit(gpu), null);

    /// <summary>Runs <paramref name="allocate"/> on a measuring arena, then on an arena whose buffers are sized for what it
    /// asked for, and returns that arena with the tensors; <paramref name="allocate"/> must ask for the same tensors both
    /// times (it only allocates).</summary>
    public static TensorArena Allocate<T>(Gpu gpu, Func<TensorArena, T> allocate, out T tensors)
    {
        var measured = Measuring(gpu);
        allocate(measured);
        var arena = new TensorArena(gpu, measured._maxBuffer, measured);
        try { tensors = allocate(arena); }
        catch
        {
            arena.Dispose();
            throw;
        }
        return arena;
    }

    /// <summary>The bytes of device memory a measured run of <paramref name="allocate"/> takes (no device needed).</summary>
    public static long MeasureBytes(Action<TensorArena> allocate)
    {
        var measured = Measuring();
        allocate(measured);
        return measured.Bytes;
    }

    static ulong BufferLimit(Gpu? gpu) => gpu is null ? MaxBufferBytes : Math.Min(gpu.Info.MaxStorageBufferRange, MaxBufferBytes);

    /// <summary>What a buffer of its own for <paramref name="bytes"/> counts: whole alignment units, at least one.</summary>
    public static long BufferBytes(ulong bytes) => (long)Math.Max(DeviceInfo.MaxOffsetAlignment, DeviceInfo.PackedBytes(bytes));

    public bool IsMeasuring => _gpu is null;

    /// <summary>Bytes the arena's buffers take (measuring: would take).</summary>
    public long Bytes => _device.Bytes + _host.Bytes;

    /// <summary>Tensors handed out so far.</summary>
    public int Tensors => _device.Tensors + _host.Tensors;

    /// <summary>Buffers allocated (measuring: that would be).</summary>
    public int Buffers => _device.Sizes.Count + _host.Sizes.Count;

    /// <summary>A tensor in device memory.</summary>
    public Tensor New(DType dtype, params long[] shape) => Place(_device, dtype, shape);

    public Tensor F32(params long[] shape) => New(DType.F32, shape);

    /// <summary>A tensor in host-visible memory: for small inputs rewritten between submissions (timesteps, step sizes),
    /// which the host then writes directly instead of through a staging copy and a wait.</summary>
    public Tensor NewHostVisible(DType dtype, params long[] shape) => Place(_host, dtype, shape);

    Tensor Place(Pool pool, DType dtype, long[] shape)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long elements = 1;
        foreach (var d in shape) elements *= d;
        ulong bytes = (ulong)(elements * dtype.Size());
        ulong start = DeviceInfo.PackedBytes(pool.Used);   // tensor offsets at the largest alignment any device needs
        if (pool.Sizes.Count == 0 || start + bytes > _maxBuffer && pool.Used > 0)
        {
            pool.Sizes.Add(0);
            start = 0;
        }
        pool.Used = start + bytes;
        // Whole alignment units, at least one: what a driver rounds a buffer to is then what the plan counts.
        pool.Sizes[^1] = (ulong)BufferBytes(pool.Used);
        pool.Tensors++;
        if (_gpu is null) return Tensor.Unbacked(dtype, shape);
        int index = pool.Sizes.Count - 1;
        if (pool.Buffers.Count == index)
        {
            var planned = _layout!.PoolOf(pool).Sizes;
            if (index >= planned.Count) throw new InvalidOperationException("the arena is asked for more tensors than were measured");
            pool.Buffers.Add(new GpuBuffer(_gpu, planned[index], pool.HostVisible));
        }
        var buffer = pool.Buffers[index];
        if (start + bytes > buffer.Size) throw new InvalidOperationException("the arena is asked for other tensors than were measured");
        return new Tensor(buffer, start, dtype, shape);
    }

    Pool PoolOf(Pool other) => other.HostVisible ? _host : _device;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var b in _device.Buffers.Concat(_host.Buffers)) b.Dispose();
    }

    sealed class Pool(bool hostVisible)
    {
        public readonly bool HostVisible = hostVisible;
        public readonly List<ulong> Sizes = [];
        public readonly List<GpuBuffer> Buffers = [];
        public ulong Used;
        public int Tensors;
        public long Bytes => Sizes.Sum(s => (long)s);
    }
}
