namespace T2X.Vulkan.Kernels;

/// <summary>
/// dst[y0 + y, x0 + x] = src[y, x] for y &lt; h, x &lt; w: the top-left window of one f32 plane [H, W] copied into
/// another (a decoded tile's kept part placed into the image). Shader: Shaders/copy_window.comp.
/// </summary>
public static class CopyWindow
{
    const string Op = "copy_window";
    static readonly KernelLayout Layout = KernelLayout.Of(8 * 4, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor src, Tensor dst, long y0, long x0, long h, long w)
    {
        KernelChecks.F32(Op, "src", src);
        KernelChecks.F32(Op, "dst", dst);
        if (src.Rank != 2 || dst.Rank != 2) throw new ArgumentException($"{Op}: src and dst must be planes [H, W], got src {src}, dst {dst}");
        if (h < 0 || w < 0 || h > src.Shape[0] || w > src.Shape[1])
            throw new ArgumentException($"{Op}: window {h}x{w} does not lie in src {src}");
        if (y0 < 0 || x0 < 0 || y0 + h > dst.Shape[0] || x0 + w > dst.Shape[1])
            throw new ArgumentException($"{Op}: window {h}x{w} at ({y0}, {x0}) does not lie in dst {dst}");
        if (h == 0 || w == 0) return;
        var (s, sSkip) = Planes.Bind(src);
        var (d, dSkip) = Planes.Bind(dst);
        var push = new Push().UInt((ulong)h).UInt((ulong)w).UInt((ulong)src.Shape[1]).UInt((ulong)dst.Shape[1])
            .UInt((ulong)y0).UInt((ulong)x0).UInt(sSkip).UInt(dSkip);
        var (gx, gy) = Grid.Split(h * w, 256);
        seq.Dispatch(seq.Gpu.Kernel(Op, Layout), [s, d], push, gx, gy, label: $"{Op} {h}x{w}");
    }
}
