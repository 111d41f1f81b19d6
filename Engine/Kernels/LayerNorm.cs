namespace T2X.Vulkan.Kernels;

/// <summary>
/// LayerNorm over the last axis without affine parameters (f32), optionally fused with adaLN modulation
/// y = LN(x)·(1 + scale[g]) + shift[g] where row m of x uses g = (m / rowDiv) % G.
/// With rowDiv = tokens per window and G = batch this reproduces the block's batch mapping (docs/ptdit.md, quirk Q1);
/// the final layer uses rowDiv = tokens per sample. D must be a multiple of 4 (inputs are read as vec4
/// texels). Tensors larger than one binding are processed in row chunks. Shader: Shaders/layer_norm.comp.
/// y may alias x.
/// </summary>
public static class LayerNorm
{
    const string Op = "layer_norm";
    readonly record struct Push(uint Rows, uint D, float Eps, uint RowDiv, uint Groups, uint Row0);
    readonly record struct Spec(uint WorkgroupSize, Bool32 Modulate);
    static readonly KernelDef<Push, Spec> Def = new(Op, Access.ReadTexel, Access.ReadTexel, Access.ReadTexel, Access.Write);

    /// <summary>Plain LayerNorm of every row of x into y (same shape).</summary>
    public static void Record(Sequence seq, Tensor x, Tensor y, float eps)
        => Record(seq, x, y, eps, null, null, 1, BindingLimits.Of(seq.Gpu));

    /// <summary>LayerNorm fused with modulation; shift and scale are f32 [G, D].</summary>
    public static void Record(Sequence seq, Tensor x, Tensor y, float eps, Tensor shift, Tensor scale, long rowDiv)
        => Record(seq, x, y, eps, shift, scale, rowDiv, BindingLimits.Of(seq.Gpu));

    /// <summary>As Record, with the binding limits given (tests force the chunked path with a small limit).</summary>
    internal static void Record(Sequence seq, Tensor x, Tensor y, float eps, Tensor? shift, Tensor? scale, long rowDiv, BindingLimits limits)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "y", y);
        KernelChecks.Shape(Op, "y", y, x.Shape);
        long d = x.Dim(-1), rows = x.Rows;
        KernelChecks.Positive(Op, "the last axis of x", d);
        KernelChecks.Fits32(Op, "x", x.Elements);
        long groups = 1;
        bool modulate = shift != null || scale != null;
        if (modulate)
        {
            if (shift == null || scale == null) throw new ArgumentException($"{Op}: modulation needs both shift and scale");
            KernelChecks.F32(Op, "shift", shift);
            KernelChecks.F32(Op, "scale", scale);
            groups = shift.Rank == 2 ? shift.Dim(0) : 0;
            KernelChecks.Positive(Op, "the groups of shift", groups);
            KernelChecks.Shape(Op, "shift", shift, groups, d);
            KernelChecks.Shape(Op, "scale", scale, groups, d);
            KernelChecks.Positive(Op, "rowDiv", rowDiv);
        }
        if (rows == 0) return;
        var gpu = seq.Gpu;
        var shiftView = modulate ? TexelViews.Vec4(gpu, Op, "shift", shift!) : default;
        var scaleView = modulate ? TexelViews.Vec4(gpu, Op, "scale", scale!) : default;
        // lavapipe runs a workgroup's subgroups one after the other: one subgroup per row was fastest there (docs/lavapipe.md §3).
        uint workgroup = gpu.Info.IsCpu ? gpu.Info.SubgroupSize : 128;
        var kernel = Def.Get(gpu, new Spec(workgroup, modulate));
        Tensor x2 = x.Reshape(rows, d), y2 = y.Reshape(rows, d);
        foreach (var (start, count) in RowChunks.Of(Op, rows, d * 4, limits))
        {
            var xv = TexelViews.Vec4(gpu, Op, "x", x2.Slice(start, count));
            var (gx, gy) = Grid.Split(count, 1);
            var push = checked(new Push((uint)count, (uint)d, eps, (uint)rowDiv, (uint)groups, (uint)start));
            seq.Dispatch(kernel, [xv, modulate ? shiftView : xv, modulate ? scaleView : xv, y2.Slice(start, count)], push, gx, gy);
        }
    }
}
