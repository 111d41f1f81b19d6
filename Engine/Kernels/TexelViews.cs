using Silk.NET.Vulkan;

namespace T2X.Vulkan.Kernels;

/// <summary>
/// vec4 texel views of f32 tensors: imageLoad from a storage texel buffer is the cheapest load on lavapipe (docs/lavapipe.md §1)
/// (several times cheaper than SSBO loads) and cached on GPUs, so the memory-bound kernels read through them.
/// </summary>
static class TexelViews
{
    /// <summary>An RGBA32F view of an f32 tensor whose last axis is a multiple of 4, after checking the
    /// device's offset alignment and texel-count limit.</summary>
    public static Arg Vec4(Gpu gpu, string op, string name, Tensor t)
    {
        if (t.DType != DType.F32) throw new ArgumentException($"{op}: {name} must be f32, got {t}");
        if (t.Dim(-1) % 4 != 0) throw new ArgumentException($"{op}: the last axis of {name} must be a multiple of 4, got {t}");
        ulong align = gpu.Info.OffsetAlignment;
        if (t.Offset % align != 0)
            throw new ArgumentException($"{op}: {name} starts at byte {t.Offset}, not a multiple of this device's texel-buffer offset alignment ({align})");
        if (t.Elements / 4 > gpu.Info.MaxTexelBufferElements)
            throw new ArgumentException($"{op}: {name} {t} has more than the device's {gpu.Info.MaxTexelBufferElements} texels per view; split the work");
        return Arg.Texel(t, Format.R32G32B32A32Sfloat);
    }
}
