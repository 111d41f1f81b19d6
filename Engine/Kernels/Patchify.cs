namespace T2X.Vulkan.Kernels;

/// <summary>
/// Latents f32 [B, C, F, H, W] → patch rows f32 [B·P·N, C·p·p] in window-major token order (docs/ptdit.md §4.1 and §5),
/// columns in (ci, ky, kx) order: the patch embedding is then a GEMM with the conv weight [D, C, p, p]
/// viewed as [D, C·p·p]. Shader: Shaders/patchify.comp.
/// </summary>
public static class Patchify
{
    const string Op = "patchify";
    static readonly KernelLayout Layout = KernelLayout.Of(36, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor latents, Tensor patches, int patch, WindowSize window)
    {
        KernelChecks.F32(Op, "latents", latents);
        KernelChecks.F32(Op, "patches", patches);
        if (latents.Rank != 5) throw new ArgumentException($"{Op}: latents must be [B, C, F, H, W], got {latents}");
        long b = latents.Dim(0), c = latents.Dim(1);
        var (f, h, w) = CheckGrid(Op, "latents", latents.Dim(2), latents.Dim(3), latents.Dim(4), patch, window);
        KernelChecks.Shape(Op, "patches", patches, b * f * (h / patch) * (w / patch), c * patch * patch);
        KernelChecks.Fits32(Op, "latents", latents.Elements);
        var (gx, gy) = Grid.Split(patches.Elements, 256);
        seq.Dispatch(seq.Gpu.Kernel(Op, Layout), [latents, patches], LayoutPush(b, c, f, h, w, patch, window), gx, gy);
    }

    /// <summary>Checks that a latent grid splits into whole patches and windows (shared with Unpatchify).</summary>
    internal static (long f, long h, long w) CheckGrid(string op, string name, long f, long h, long w, int patch, WindowSize window)
    {
        if (patch <= 0 || window.Frames <= 0 || window.Rows <= 0 || window.Cols <= 0)
            throw new ArgumentException($"{op}: patch {patch} and window {window} must be positive");
        if (f % window.Frames != 0 || h % (patch * window.Rows) != 0 || w % (patch * window.Cols) != 0)
            throw new ArgumentException($"{op}: {name} frames {f}, height {h}, width {w} must be multiples of "
                + $"{window.Frames}, {patch * window.Rows}, {patch * window.Cols} (patch {patch} × window {window})");
        return (f, h, w);
    }

    internal static Push LayoutPush(long b, long c, long f, long h, long w, int patch, WindowSize window)
        => new Push().UInt((ulong)b).UInt((ulong)c).UInt((ulong)f).UInt((ulong)h).UInt((ulong)w).UInt((ulong)patch)
            .UInt((ulong)window.Frames).UInt((ulong)window.Rows).UInt((ulong)window.Cols);
}
