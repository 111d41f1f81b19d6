namespace T2X.Vulkan.Kernels;

/// <summary>The two 2x upsamplers of the Open-Sora-Plan decoder (before their convolution).</summary>
public enum UpsampleKind
{
    /// <summary>SpatialUpsample2x: nearest neighbour 2x in rows and columns, frames unchanged.</summary>
    Nearest2x,
    /// <summary>Spatial2xTime2x3DUpsample: frame 0 bilinear 2x in space only, frames 1.. trilinear 2x (T → 2T − 1).</summary>
    Spatial2xTime2x,
}

/// <summary>2x upsampling of channel-last x [B, T, H, W, C] into y [B, T', 2H, 2W, C]. Shader: Shaders/upsample.comp.</summary>
public static class Upsample
{
    const string Op = "upsample";
    static readonly KernelLayout Layout = KernelLayout.Of(20, Access.Read, Access.Write);

    /// <summary>Frames after upsampling T frames.</summary>
    public static long Frames(UpsampleKind kind, long t) => kind == UpsampleKind.Nearest2x ? t : 2 * t - 1;

    public static void Record(Sequence seq, UpsampleKind kind, Tensor x, Tensor y)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "y", y);
        if (x.Rank != 5) throw new ArgumentException($"{Op}: x must be [B, T, H, W, C], got {x}");
        long b = x.Shape[0], t = x.Shape[1], h = x.Shape[2], w = x.Shape[3], c = x.Shape[4];
        KernelChecks.Positive(Op, "every axis of x", Math.Min(Math.Min(b, t), Math.Min(Math.Min(h, w), c)));
        KernelChecks.Shape(Op, "y", y, b, Frames(kind, t), 2 * h, 2 * w, c);
        KernelChecks.Fits32(Op, "y", y.Elements);
        if (y.Bytes > seq.Gpu.Info.MaxStorageBufferRange)
            throw new ArgumentException($"{Op}: y {y} is larger than this device's {seq.Gpu.Info.MaxStorageBufferRange} bytes per binding; decode with tiling");
        var push = new Push().UInt((ulong)y.Elements).UInt((ulong)t).UInt((ulong)h).UInt((ulong)w).UInt((ulong)c);
        var (gx, gy) = Grid.Split(y.Elements, 256);
        seq.Dispatch(seq.Gpu.Kernel(Op, Layout, kind == UpsampleKind.Nearest2x ? 1 : 0), [x, y], push, gx, gy, label: $"upsample {kind} {x}");
    }
}
