namespace T2X.Vulkan.Kernels;

/// <summary>
/// Latents f32 [B, C, F, H, W] → patch rows f32 [B·P·N, C·p·p] in window-major token order (docs/ptdit.md §4.1 and §5),
/// columns in (ci, ky, kx) order: the patch embedding is then a GEMM with the conv weight [D, C, p, p]
/// viewed as [D, C·p·p]. Shader: Shaders/patchify.comp.
/// </summary>
public static class Patchify
{
    const string Op = "patchify";
    const uint Workgroup = 256;
    static readonly KernelDef<GridPush, WorkgroupSpec> Def = new(Op, Access.Read, Access.Write);

    /// <summary>The push constants of patchify and unpatchify: the latent grid [B, C, F, H, W], the patch size and the window.</summary>
    internal readonly record struct GridPush(uint B, uint C, uint F, uint H, uint W, uint Patch, uint WindowFrames, uint WindowRows, uint WindowCols);

    public static void Record(Sequence seq, Tensor latents, Tensor patches, int patch, WindowSize window)
    {
        KernelChecks.F32(Op, "latents", latents);
        KernelChecks.F32(Op, "patches", patches);
        if (latents.Rank != 5) throw new ArgumentException($"{Op}: latents must be [B, C, F, H, W], got {latents}");
        long b = latents.Dim(0), c = latents.Dim(1);
        var (f, h, w) = CheckGrid(Op, "latents", latents.Dim(2), latents.Dim(3), latents.Dim(4), patch, window);
        KernelChecks.Shape(Op, "patches", patches, b * f * (h / patch) * (w / patch), c * patch * patch);
        KernelChecks.Fits32(Op, "latents", latents.Elements);
        var (gx, gy) = Grid.Split(patches.Elements, Workgroup);
        seq.Dispatch(Def.Get(seq.Gpu, new WorkgroupSpec(Workgroup)), [latents, patches], LayoutPush(b, c, f, h, w, patch, window), gx, gy);
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

    internal static GridPush LayoutPush(long b, long c, long f, long h, long w, int patch, WindowSize window)
        => checked(new GridPush((uint)b, (uint)c, (uint)f, (uint)h, (uint)w, (uint)patch, (uint)window.Frames, (uint)window.Rows, (uint)window.Cols));
}
