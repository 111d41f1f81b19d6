namespace T2X.Vulkan.Kernels;

/// <summary>
/// Model output f32 [B, P·N, p·p·C] (window-major tokens; channel k = (py·p + px)·C + co) → f32
/// [B, C, F, H, W] as docs/ptdit.md §8. Shader: Shaders/unpatchify.comp.
/// </summary>
public static class Unpatchify
{
    const string Op = "unpatchify";
    const uint Workgroup = 256;
    static readonly KernelDef<Patchify.GridPush, WorkgroupSpec> Def = new(Op, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor tokens, Tensor output, int patch, WindowSize window)
    {
        KernelChecks.F32(Op, "tokens", tokens);
        KernelChecks.F32(Op, "output", output);
        if (output.Rank != 5) throw new ArgumentException($"{Op}: output must be [B, C, F, H, W], got {output}");
        long b = output.Dim(0), c = output.Dim(1);
        var (f, h, w) = Patchify.CheckGrid(Op, "output", output.Dim(2), output.Dim(3), output.Dim(4), patch, window);
        KernelChecks.Shape(Op, "tokens", tokens, b, f * (h / patch) * (w / patch), patch * patch * c);
        KernelChecks.Fits32(Op, "output", output.Elements);
        var (gx, gy) = Grid.Split(output.Elements, Workgroup);
        seq.Dispatch(Def.Get(seq.Gpu, new WorkgroupSpec(Workgroup)), [tokens, output], Patchify.LayoutPush(b, c, f, h, w, patch, window), gx, gy);
    }
}
