namespace T2X.Vulkan.Kernels;

/// <summary>The two 2x upsamplers of the Open-Sora-Plan decoder (before their convolution).</summary>
public enum UpsampleKind
{
    /// <summary>SpatialUpsample2x: nearest neighbour 2x in rows and columns, frames unchanged.</summary>
    Nearest2x,
    /// <summary>Spatial2xTime2x3DUpsample: frame 0 bilinear 2x in space only, frames 1.. trilinear 2x (T → 2T − 1).</summary>
    Spatial2xTime2x,
}

/// <summary>2x upsampling of channel-last x [B, T, H, W, C] into y [B, T', 2H, 2W, C], C a multiple of 4.
/// Shader: Shaders/upsample.comp. x is one texel view; y is written in chunks of positions that each fit a binding.</summary>
public static class Upsample
{
    const string Op = "upsample";
    const uint Workgroup = 256;
    readonly record struct Push(uint Texels, uint Position0, uint T, uint H, uint W, uint C4);
    readonly record struct Spec(uint WorkgroupSize, Bool32 Nearest);
    static readonly KernelDef<Push, Spec> Def = new(Op, Access.ReadTexel, Access.Write);

    /// <summary>Frames after upsampling T frames.</summary>
    public static long Frames(UpsampleKind kind, long t) => kind == UpsampleKind.Nearest2x ? t : 2 * t - 1;

    public static void Record(Sequence seq, UpsampleKind kind, Tensor x, Tensor y)
        => Record(seq, kind, x, y, BindingLimits.Of(seq.Gpu));

    internal static void Record(Sequence seq, UpsampleKind kind, Tensor x, Tensor y, BindingLimits limits)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "y", y);
        if (x.Rank != 5) throw new ArgumentException($"{Op}: x must be [B, T, H, W, C], got {x}");
        long b = x.Shape[0], t = x.Shape[1], h = x.Shape[2], w = x.Shape[3], c = x.Shape[4];
        KernelChecks.Positive(Op, "every axis of x", Math.Min(Math.Min(b, t), Math.Min(Math.Min(h, w), c)));
        KernelChecks.Shape(Op, "y", y, b, Frames(kind, t), 2 * h, 2 * w, c);
        KernelChecks.Fits32(Op, "y", y.Elements);
        var xView = TexelViews.Vec4(seq.Gpu, Op, "x", x);
        var kernel = Def.Get(seq.Gpu, new Spec(Workgroup, kind == UpsampleKind.Nearest2x));
        foreach (var (start, count) in RowChunks.Of(Op, y.Elements / c, c * 4, limits))
        {
            long texels = count * (c / 4);
            var push = checked(new Push((uint)texels, (uint)start, (uint)t, (uint)h, (uint)w, (uint)(c / 4)));
            var (gx, gy) = Grid.Split(texels, Workgroup);
            var yChunk = new Arg(y.Buffer, y.Offset + (ulong)(start * c * 4), (ulong)(count * c * 4));
            seq.Dispatch(kernel, [xView, yChunk], push, gx, gy, label: $"upsample {kind} {x} positions {start}+{count}");
        }
    }
}
