namespace T2X.Vulkan.Kernels;

/// <summary>
/// dst[y0 + y, x0 + x] = src[y, x] for y &lt; h, x &lt; w: the top-left window of one f32 plane [H, W] copied into
/// another (a decoded tile's kept part placed into the image). Shader: Shaders/copy_window.comp.
/// </summary>
public static class CopyWindow
{
    const string Op = "copy_window";
    const uint Workgroup = 256;
    readonly record struct Push(uint H, uint W, uint SrcW, uint DstW, uint Y0, uint X0, uint SrcOffset, uint DstOffset);
    static readonly KernelDef<Push, WorkgroupSpec> Def = new(Op, Access.Read, Access.Write);

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
        var push = checked(new Push((uint)h, (uint)w, (uint)src.Shape[1], (uint)dst.Shape[1], (uint)y0, (uint)x0, (uint)sSkip, (uint)dSkip));
        var (gx, gy) = Grid.Split(h * w, Workgroup);
        seq.Dispatch(Def.Get(seq.Gpu, new WorkgroupSpec(Workgroup)), [s, d], push, gx, gy, label: $"{Op} {h}x{w}");
    }
}
