using System.Runtime.InteropServices;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace T2X.Vulkan;

/// <summary>
/// One device buffer with its own memory. On unified-memory devices (lavapipe, integrated GPUs) it is mapped
/// and read or written directly; elsewhere uploads and downloads go through a staging buffer.
/// </summary>
public sealed unsafe class GpuBuffer : IDisposable
{
    public readonly Gpu Gpu;
    public readonly VkBuffer Handle;
    public readonly ulong Size;
    readonly DeviceMemory _memory;
    readonly byte* _mapped;
    readonly Dictionary<(Format, ulong, ulong), BufferView> _views = [];
    bool _disposed;

    /// <summary>Creates a device buffer. hostVisible forces host-visible memory (small per-step parameters).</summary>
    public GpuBuffer(Gpu gpu, ulong size, bool hostVisible = false)
    {
        if (size == 0) size = 4;
        Gpu = gpu;
        Size = size;
        var vk = gpu.Vk;
        var info = new BufferCreateInfo
        {
            SType = StructureType.BufferCreateInfo,
            Size = size,
            Usage = BufferUsageFlags.StorageBufferBit | BufferUsageFlags.TransferSrcBit | BufferUsageFlags.TransferDstBit
                  | BufferUsageFlags.StorageTexelBufferBit | BufferUsageFlags.UniformTexelBufferBit | BufferUsageFlags.UniformBufferBit,
            SharingMode = SharingMode.Exclusive,
        };
        vk.CreateBuffer(gpu.Device, in info, null, out Handle).Check("vkCreateBuffer");
        vk.GetBufferMemoryRequirements(gpu.Device, Handle, out var req);
        int type = gpu.ChooseMemoryType(req.MemoryTypeBits, hostVisible);
        var alloc = new MemoryAllocateInfo { SType = StructureType.MemoryAllocateInfo, AllocationSize = req.Size, MemoryTypeIndex = (uint)type };
        var r = vk.AllocateMemory(gpu.Device, in alloc, null, out _memory);
        if (r != Result.Success)
        {
            vk.DestroyBuffer(gpu.Device, Handle, null);
            throw new VulkanException($"vkAllocateMemory of {Bytes(req.Size)} failed: {r} ({gpu.MemoryReport()})");
        }
        vk.BindBufferMemory(gpu.Device, Handle, _memory, 0).Check("vkBindBufferMemory");
        gpu.Track(req.Size);
        _allocated = req.Size;
        var flags = gpu.MemoryProperties.MemoryTypes[type].PropertyFlags;
        if ((flags & MemoryPropertyFlags.HostVisibleBit) != 0)
        {
            void* p;
            vk.MapMemory(gpu.Device, _memory, 0, Vk.WholeSize, 0, &p).Check("vkMapMemory");
            _mapped = (byte*)p;
        }
    }

    readonly ulong _allocated;

    /// <summary>True when the host reads and writes this buffer directly.</summary>
    public bool IsMapped => _mapped != null;

    /// <summary>The mapped bytes (only for mapped buffers).</summary>
    public Span<byte> Mapped => IsMapped ? new Span<byte>(_mapped, checked((int)Math.Min(Size, int.MaxValue))) : throw new InvalidOperationException("buffer is not host-visible");

    public void Upload<T>(ReadOnlySpan<T> data, ulong offset = 0) where T : unmanaged
        => Upload(MemoryMarshal.AsBytes(data), offset);

    public void Upload(ReadOnlySpan<byte> bytes, ulong offset = 0)
    {
        if (offset + (ulong)bytes.Length > Size)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"upload of {bytes.Length} bytes at {offset} exceeds buffer of {Size}");
        if (bytes.Length == 0) return;
        if (IsMapped)
        {
            bytes.CopyTo(new Span<byte>(_mapped + offset, bytes.Length));
            return;
        }
        // Staging in chunks so a huge weight never needs a huge host-visible buffer.
        const int chunk = 64 << 20;
        using var staging = new GpuBuffer(Gpu, (ulong)Math.Min(bytes.Length, chunk), hostVisible: true);
        for (int done = 0; done < bytes.Length; done += chunk)
        {
            int n = Math.Min(chunk, bytes.Length - done);
            bytes.Slice(done, n).CopyTo(staging.Mapped);
            Gpu.CopyNow(staging, 0, this, offset + (ulong)done, (ulong)n);
        }
    }

    public void Download<T>(Span<T> data, ulong offset = 0) where T : unmanaged
        => Download(MemoryMarshal.AsBytes(data), offset);

    public void Download(Span<byte> bytes, ulong offset = 0)
    {
        if (offset + (ulong)bytes.Length > Size)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"download of {bytes.Length} bytes at {offset} exceeds buffer of {Size}");
        if (bytes.Length == 0) return;
        if (IsMapped)
        {
            new ReadOnlySpan<byte>(_mapped + offset, bytes.Length).CopyTo(bytes);
            return;
        }
        const int chunk = 64 << 20;
        using var staging = new GpuBuffer(Gpu, (ulong)Math.Min(bytes.Length, chunk), hostVisible: true);
        for (int done = 0; done < bytes.Length; done += chunk)
        {
            int n = Math.Min(chunk, bytes.Length - done);
            Gpu.CopyNow(this, offset + (ulong)done, staging, 0, (ulong)n);
            staging.Mapped[..n].CopyTo(bytes.Slice(done, n));
        }
    }

    /// <summary>A texel view of a range (cached), for shaders that read through imageLoad/texelFetch.</summary>
    public BufferView View(Format format, ulong offset, ulong range)
    {
        lock (_views)
        {
            if (_views.TryGetValue((format, offset, range), out var v)) return v;
            var info = new BufferViewCreateInfo
            {
                SType = StructureType.BufferViewCreateInfo,
                Buffer = Handle,
                Format = format,
                Offset = offset,
                Range = range,
            };
            Gpu.Vk.CreateBufferView(Gpu.Device, in info, null, out v).Check("vkCreateBufferView");
            _views[(format, offset, range)] = v;
            return v;
        }
    }

    internal static string Bytes(ulong n) => n >= 1 << 30 ? $"{n / (double)(1 << 30):0.##} GiB" : $"{n / (double)(1 << 20):0.#} MiB";

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        var vk = Gpu.Vk;
        foreach (var v in _views.Values) vk.DestroyBufferView(Gpu.Device, v, null);
        if (IsMapped) vk.UnmapMemory(Gpu.Device, _memory);
        vk.DestroyBuffer(Gpu.Device, Handle, null);
        vk.FreeMemory(Gpu.Device, _memory, null);
        Gpu.Track(-(long)_allocated);
    }
}

public sealed unsafe partial class Gpu
{
    long _allocatedBytes, _peakBytes;

    /// <summary>Bytes of device memory held by live buffers, and the most ever held at once.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);
    public long PeakBytes => Interlocked.Read(ref _peakBytes);
    public void ResetPeak() => Interlocked.Exchange(ref _peakBytes, AllocatedBytes);

    internal void Track(ulong bytes) => Track((long)bytes);
    internal void Track(long bytes)
    {
        long now = Interlocked.Add(ref _allocatedBytes, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peakBytes)) && Interlocked.CompareExchange(ref _peakBytes, now, peak) != peak) { }
    }

    internal string MemoryReport() =>
        $"{GpuBuffer.Bytes((ulong)AllocatedBytes)} already allocated, device-local heap {GpuBuffer.Bytes(Info.DeviceLocalBytes)}";

    internal int ChooseMemoryType(uint typeBits, bool hostVisible)
    {
        int unified = FindUnifiedType(MemoryProperties);
        if (unified >= 0 && (typeBits & (1u << unified)) != 0) return unified;
        var want = hostVisible ? MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit : MemoryPropertyFlags.DeviceLocalBit;
        for (int i = 0; i < MemoryProperties.MemoryTypeCount; i++)
            if ((typeBits & (1u << i)) != 0 && (MemoryProperties.MemoryTypes[i].PropertyFlags & want) == want)
                return i;
        throw new VulkanException($"no memory type with {want} for this buffer");
    }

    /// <summary>Copies between buffers and waits (used by staging; not for hot paths).</summary>
    internal void CopyNow(GpuBuffer src, ulong srcOffset, GpuBuffer dst, ulong dstOffset, ulong size)
    {
        using var seq = new Sequence(this);
        seq.Copy(src, srcOffset, dst, dstOffset, size);
        seq.Run();
    }
}
