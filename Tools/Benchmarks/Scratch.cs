using T2X.Vulkan;
using T2X.Vulkan.Weights;

namespace T2X.Benchmarks;

/// <summary>Device tensors for one test or kernel-table case, freed together at the end.</summary>
public sealed class Scratch(Gpu gpu) : IDisposable
{
    readonly List<GpuBuffer> _buffers = [];

    Tensor Keep(Tensor t) { _buffers.Add(t.Buffer); return t; }

    public Tensor F32(float[] values, params long[] shape) => Keep(Tensor.FromArray(gpu, values, shape));

    public Tensor Empty(DType dtype, params long[] shape) => Keep(Tensor.Create(gpu, dtype, shape));

    /// <summary>A tensor holding a host tensor's bytes in its own dtype (f16/bf16 weights).</summary>
    public Tensor Upload(HostTensor h)
    {
        var t = Keep(Tensor.Create(gpu, h.DType, h.Shape));
        t.Buffer.Upload(h.Bytes, t.Offset);
        return t;
    }

    public Tensor I32(int[] values, params long[] shape)
    {
        var t = Keep(Tensor.Create(gpu, DType.I32, shape));
        t.Buffer.Upload<int>(values, t.Offset);
        return t;
    }

    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
    }
}
