using System.Runtime.InteropServices;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace T2X.Vulkan;

/// <summary>
/// A recorded list of dispatches and copies: record once, submit as often as needed.
/// Barriers are inserted automatically: a dispatch that reads or writes a range that an earlier, not yet
/// fenced command wrote (or writes a range an earlier command read) first gets buffer memory barriers for
/// the pending writes. Independent dispatches therefore run without barriers between them.
/// </summary>
public sealed unsafe class Sequence : IDisposable
{
    readonly Gpu _gpu;
    readonly Vk _vk;

    /// <summary>The device this sequence records for.</summary>
    public Gpu Gpu => _gpu;
    // Its own command pool: Vulkan wants a pool used by one thread at a time, and sequences are recorded on
    // several threads at once (the sampler, the viewer, a server's workers).
    readonly CommandPool _commandPool;
    readonly CommandBuffer _cmd;
    readonly Fence _fence;
    readonly List<DescriptorPool> _pools = [];
    int _setsLeftInPool;
    readonly List<(VkBuffer buffer, ulong start, ulong end)> _pendingWrites = [];
    readonly List<(VkBuffer buffer, ulong start, ulong end)> _pendingReads = [];
    QueryPool _queries;
    readonly List<string> _timestampLabels = [];
    bool _recording, _submitted, _disposed;

    /// <summary>Number of dispatches recorded (for tests and profiling).</summary>
    public int Dispatches { get; private set; }
    /// <summary>Number of pipeline barriers recorded.</summary>
    public int Barriers { get; private set; }

    /// <summary>Records timestamps around every dispatch when <paramref name="profile"/> is set.</summary>
    public Sequence(Gpu gpu, bool profile = false)
    {
        _gpu = gpu;
        _vk = gpu.Vk;
        var poolInfo = new CommandPoolCreateInfo
        {
            SType = StructureType.CommandPoolCreateInfo,
            QueueFamilyIndex = gpu.QueueFamily,
            Flags = CommandPoolCreateFlags.ResetCommandBufferBit,
        };
        _vk.CreateCommandPool(gpu.Device, in poolInfo, null, out _commandPool).Check("vkCreateCommandPool");
        var alloc = new CommandBufferAllocateInfo
        {
            SType = StructureType.CommandBufferAllocateInfo,
            CommandPool = _commandPool,
            Level = CommandBufferLevel.Primary,
            CommandBufferCount = 1,
        };
        _vk.AllocateCommandBuffers(gpu.Device, in alloc, out _cmd).Check("vkAllocateCommandBuffers");
        var fenceInfo = new FenceCreateInfo { SType = StructureType.FenceCreateInfo };
        _vk.CreateFence(gpu.Device, in fenceInfo, null, out _fence).Check("vkCreateFence");
        if (profile)
        {
            var q = new QueryPoolCreateInfo { SType = StructureType.QueryPoolCreateInfo, QueryType = QueryType.Timestamp, QueryCount = MaxTimestamps };
            _vk.CreateQueryPool(gpu.Device, in q, null, out _queries).Check("vkCreateQueryPool");
        }
        Begin();
    }

    const uint MaxTimestamps = 4096;

    void Begin()
    {
        var begin = new CommandBufferBeginInfo { SType = StructureType.CommandBufferBeginInfo };
        _vk.BeginCommandBuffer(_cmd, in begin).Check("vkBeginCommandBuffer");
        if (_queries.Handle != 0) _vk.CmdResetQueryPool(_cmd, _queries, 0, MaxTimestamps);
        _recording = true;
    }

    void RequireRecording()
    {
        if (!_recording) throw new InvalidOperationException("this sequence has been submitted; record a new one (or Reset it)");
    }

    /// <summary>Records a dispatch whose push constants are a struct (the kernel's <c>Push</c>, see <see cref="KernelDef{TPush, TSpec}"/>).</summary>
    public void Dispatch<TPush>(Kernel kernel, ReadOnlySpan<Arg> args, in TPush push, uint groupsX, uint groupsY = 1, uint groupsZ = 1, string? label = null)
        where TPush : unmanaged
        => Dispatch(kernel, args, MemoryMarshal.AsBytes(new ReadOnlySpan<TPush>(in push)), groupsX, groupsY, groupsZ, label);

    /// <summary>Records one dispatch of a kernel over the given workgroup counts.</summary>
    public void Dispatch(Kernel kernel, ReadOnlySpan<Arg> args, ReadOnlySpan<byte> push, uint groupsX, uint groupsY = 1, uint groupsZ = 1, string? label = null)
    {
        RequireRecording();
        var layout = kernel.Layout;
        if (args.Length != layout.Bindings.Length)
            throw new ArgumentException($"{kernel.Name}: {args.Length} arguments for {layout.Bindings.Length} bindings");
        if (push.Length != layout.PushBytes)
            throw new ArgumentException($"{kernel.Name}: {push.Length} push-constant bytes, the shader declares {layout.PushBytes}");
        var limits = _gpu.Info;
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (layout.Bindings[i] == Access.WriteImage)
                throw new ArgumentException($"{kernel.Name}: binding {i} is an image; sequences bind buffers only");
            if (layout.Bindings[i] == Access.ReadTexel)
            {
                if (a.TexelFormat == Format.Undefined)
                    throw new ArgumentException($"{kernel.Name}: binding {i} needs a texel view (Arg.Texel)");
            }
            else if (a.Range > limits.MaxStorageBufferRange)
                throw new ArgumentException($"{kernel.Name}: binding {i} spans {a.Range} bytes, more than this device's maxStorageBufferRange ({limits.MaxStorageBufferRange}); the kernel must split its work");
        }
        if (groupsX == 0 || groupsY == 0 || groupsZ == 0) return;

        InsertBarrierIfNeeded(layout, args);

        var set = AllocateSet(kernel.SetLayout);
        var writes = stackalloc WriteDescriptorSet[args.Length];
        var infos = stackalloc DescriptorBufferInfo[args.Length];
        var views = stackalloc BufferView[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            writes[i] = new WriteDescriptorSet
            {
                SType = StructureType.WriteDescriptorSet,
                DstSet = set,
                DstBinding = (uint)i,
                DescriptorCount = 1,
                DescriptorType = Kernel.DescriptorTypeOf(layout.Bindings[i]),
            };
            if (layout.Bindings[i] == Access.ReadTexel)
            {
                views[i] = a.Buffer.View(a.TexelFormat, a.Offset, a.Range);
                writes[i].PTexelBufferView = &views[i];
            }
            else
            {
                infos[i] = new DescriptorBufferInfo { Buffer = a.Buffer.Handle, Offset = a.Offset, Range = Math.Max(4, a.Range) };
                writes[i].PBufferInfo = &infos[i];
            }
        }
        _vk.UpdateDescriptorSets(_gpu.Device, (uint)args.Length, writes, 0, null);

        Timestamp(label ?? kernel.Name);
        _vk.CmdBindPipeline(_cmd, PipelineBindPoint.Compute, kernel.Pipeline);
        _vk.CmdBindDescriptorSets(_cmd, PipelineBindPoint.Compute, kernel.PipelineLayout, 0, 1, &set, 0, null);
        if (push.Length > 0)
            fixed (byte* pp = push)
                _vk.CmdPushConstants(_cmd, kernel.PipelineLayout, ShaderStageFlags.ComputeBit, 0, (uint)push.Length, pp);
        _vk.CmdDispatch(_cmd, groupsX, groupsY, groupsZ);
        Timestamp(null);
        Dispatches++;

        for (int i = 0; i < args.Length; i++)
        {
            var r = (args[i].Buffer.Handle, args[i].Offset, args[i].Offset + args[i].Range);
            if (layout.Bindings[i] == Access.Write) _pendingWrites.Add(r); else _pendingReads.Add(r);
        }
    }

    /// <summary>Records a buffer-to-buffer copy.</summary>
    public void Copy(GpuBuffer src, ulong srcOffset, GpuBuffer dst, ulong dstOffset, ulong size)
    {
        RequireRecording();
        Arg[] args = [new(src, srcOffset, size), new(dst, dstOffset, size)];
        InsertBarrierIfNeeded(CopyLayout, args);
        var region = new BufferCopy { SrcOffset = srcOffset, DstOffset = dstOffset, Size = size };
        _vk.CmdCopyBuffer(_cmd, src.Handle, dst.Handle, 1, &region);
        _pendingReads.Add((src.Handle, srcOffset, srcOffset + size));
        _pendingWrites.Add((dst.Handle, dstOffset, dstOffset + size));
    }

    static readonly KernelLayout CopyLayout = KernelLayout.Of(0, Access.Read, Access.Write);

    /// <summary>Records a copy between tensors of the same byte size.</summary>
    public void Copy(Tensor src, Tensor dst)
    {
        if (src.Bytes != dst.Bytes) throw new ArgumentException($"copy {src} -> {dst}: sizes differ");
        Copy(src.Buffer, src.Offset, dst.Buffer, dst.Offset, src.Bytes);
    }

    /// <summary>Fills a tensor's bytes with a 32-bit pattern (0 for zeros).</summary>
    public void Fill(Tensor t, uint value = 0)
    {
        RequireRecording();
        Arg[] args = [new(t.Buffer, t.Offset, t.Bytes)];
        InsertBarrierIfNeeded(FillLayout, args);
        _vk.CmdFillBuffer(_cmd, t.Buffer.Handle, t.Offset, (t.Bytes + 3) & ~3ul, value);
        _pendingWrites.Add((t.Buffer.Handle, t.Offset, t.Offset + t.Bytes));
    }

    static readonly KernelLayout FillLayout = KernelLayout.Of(0, Access.Write);

    static bool Overlaps(List<(VkBuffer buffer, ulong start, ulong end)> list, in Arg a)
    {
        ulong s = a.Offset, e = a.Offset + a.Range;
        foreach (var (b, ps, pe) in list)
            if (b.Handle == a.Buffer.Handle.Handle && ps < e && s < pe) return true;
        return false;
    }

    void InsertBarrierIfNeeded(KernelLayout layout, ReadOnlySpan<Arg> args)
    {
        bool hazard = false;
        for (int i = 0; i < args.Length && !hazard; i++)
        {
            hazard = Overlaps(_pendingWrites, args[i])                                      // read/write after write
                  || (layout.Bindings[i] == Access.Write && Overlaps(_pendingReads, args[i])); // write after read
        }
        if (hazard) Barrier();
    }

    /// <summary>Makes every earlier command's writes visible to every later command.</summary>
    public void Barrier()
    {
        RequireRecording();
        int n = _pendingWrites.Count;
        var barriers = stackalloc BufferMemoryBarrier[Math.Max(1, n)];
        for (int i = 0; i < n; i++)
        {
            var (b, s, e) = _pendingWrites[i];
            barriers[i] = new BufferMemoryBarrier
            {
                SType = StructureType.BufferMemoryBarrier,
                SrcAccessMask = AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit,
                DstAccessMask = AccessFlags.ShaderReadBit | AccessFlags.ShaderWriteBit | AccessFlags.TransferReadBit | AccessFlags.TransferWriteBit,
                SrcQueueFamilyIndex = Vk.QueueFamilyIgnored,
                DstQueueFamilyIndex = Vk.QueueFamilyIgnored,
                Buffer = b,
                Offset = s,
                Size = e - s,
            };
        }
        var stages = PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit;
        _vk.CmdPipelineBarrier(_cmd, stages, stages, 0, 0, null, (uint)n, barriers, 0, null);
        _pendingWrites.Clear();
        _pendingReads.Clear();
        Barriers++;
    }

    void Timestamp(string? label)
    {
        if (_queries.Handle == 0 || _timestampLabels.Count >= MaxTimestamps) return;
        _vk.CmdWriteTimestamp(_cmd, PipelineStageFlags.BottomOfPipeBit, _queries, (uint)_timestampLabels.Count);
        _timestampLabels.Add(label ?? "");
    }

    DescriptorSet AllocateSet(DescriptorSetLayout layout)
    {
        if (_setsLeftInPool == 0) AddDescriptorPool();
        var result = TryAllocateSet(layout, out var set);
        // A pool can run out of one descriptor type before its sets (kernels with many texel views): start another.
        if (result is Result.ErrorOutOfPoolMemory or Result.ErrorFragmentedPool)
        {
            AddDescriptorPool();
            result = TryAllocateSet(layout, out set);
        }
        result.Check("vkAllocateDescriptorSets");
        _setsLeftInPool--;
        return set;
    }

    Result TryAllocateSet(DescriptorSetLayout layout, out DescriptorSet set)
    {
        var alloc = new DescriptorSetAllocateInfo
        {
            SType = StructureType.DescriptorSetAllocateInfo,
            DescriptorPool = _pools[^1],
            DescriptorSetCount = 1,
            PSetLayouts = &layout,
        };
        return _vk.AllocateDescriptorSets(_gpu.Device, in alloc, out set);
    }

    void AddDescriptorPool()
    {
        const uint sets = 256;
        var sizes = stackalloc DescriptorPoolSize[]
        {
            new() { Type = DescriptorType.StorageBuffer, DescriptorCount = sets * 8 },
            new() { Type = DescriptorType.StorageTexelBuffer, DescriptorCount = sets * 4 },
        };
        var info = new DescriptorPoolCreateInfo
        {
            SType = StructureType.DescriptorPoolCreateInfo,
            MaxSets = sets,
            PoolSizeCount = 2,
            PPoolSizes = sizes,
        };
        _vk.CreateDescriptorPool(_gpu.Device, in info, null, out var pool).Check("vkCreateDescriptorPool");
        _pools.Add(pool);
        _setsLeftInPool = (int)sets;
    }

    /// <summary>Submits the recorded commands (ending the recording on the first submit).</summary>
    public void Submit()
    {
        if (_recording)
        {
            _vk.EndCommandBuffer(_cmd).Check("vkEndCommandBuffer");
            _recording = false;
        }
        if (_submitted) Wait();
        var cmd = _cmd;
        var fence = _fence;
        _vk.ResetFences(_gpu.Device, 1, &fence).Check("vkResetFences");
        var submit = new SubmitInfo { SType = StructureType.SubmitInfo, CommandBufferCount = 1, PCommandBuffers = &cmd };
        lock (_gpu.QueueLock) _vk.QueueSubmit(_gpu.Queue, 1, in submit, _fence).Check("vkQueueSubmit");
        _submitted = true;
    }

    /// <summary>Waits for the last submit to finish.</summary>
    public void Wait()
    {
        if (!_submitted) return;
        var fence = _fence;
        _vk.WaitForFences(_gpu.Device, 1, &fence, true, ulong.MaxValue).Check("vkWaitForFences");
        _submitted = false;
    }

    /// <summary>Submit and wait.</summary>
    public void Run()
    {
        Submit();
        Wait();
    }

    /// <summary>Per-dispatch GPU times in milliseconds from the last run (profiling sequences only).</summary>
    public IReadOnlyList<(string label, double ms)> Timings()
    {
        if (_queries.Handle == 0) return [];
        Wait();
        int n = _timestampLabels.Count;
        if (n == 0) return [];
        var stamps = new ulong[n];
        fixed (ulong* p = stamps)
            _vk.GetQueryPoolResults(_gpu.Device, _queries, 0, (uint)n, (nuint)(8 * n), p, 8, QueryResultFlags.Result64Bit | QueryResultFlags.ResultWaitBit).Check("vkGetQueryPoolResults");
        var result = new List<(string, double)>();
        for (int i = 0; i + 1 < n; i += 2)
            result.Add((_timestampLabels[i], (stamps[i + 1] - stamps[i]) * _gpu.Info.TimestampPeriod / 1e6));
        return result;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_submitted) Wait();
        foreach (var p in _pools) _vk.DestroyDescriptorPool(_gpu.Device, p, null);
        if (_queries.Handle != 0) _vk.DestroyQueryPool(_gpu.Device, _queries, null);
        _vk.DestroyFence(_gpu.Device, _fence, null);
        _vk.DestroyCommandPool(_gpu.Device, _commandPool, null);   // frees _cmd with it
    }
}
