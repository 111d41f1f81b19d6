namespace T2X.Vulkan.Kernels;

/// <summary>
/// LayerNorm over the last axis without affine parameters (f32), optionally fused with adaLN modulation
/// y = LN(x)·(1 + scale[g]) + shift[g] where row m of x uses g = (m / rowDiv) % G.
/// With rowDiv = tokens per window and G = batch this reproduces the block's batch mapping (spec quirk Q1);
/// the final layer uses rowDiv = tokens per sample. Shader: Shaders/layer_norm.comp. y may alias x.
/// </summary>
public static class LayerNorm
{
    const string Op = "layer_norm";
    static readonly KernelLayout Layout = KernelLayout.Of(20, Access.Read, Access.Read, Access.Read, Access.Write);

    /// <summary>Plain LayerNorm of every row of x into y (same shape).</summary>
    public static void Record(Sequence seq, Tensor x, Tensor y, float eps)
        => Dispatch(seq, x, y, eps, null, null, 1);

    /// <summary>LayerNorm fused with modulation; shift and scale are f32 [G, D].</summary>
    public static void Record(Sequence seq, Tensor x, Tensor y, float eps, Tensor shift, Tensor scale, long rowDiv)
        => Dispatch(seq, x, y, eps, shift, scale, rowDiv);

    static void Dispatch(Sequence seq, Tensor x, Tensor y, float eps, Tensor? shift, Tensor? scale, long rowDiv)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "y", y);
        KernelChecks.Shape(Op, "y", y, x.Shape);
        long d = x.Dim(-1), rows = x.Rows;
        KernelChecks.Positive(Op, "the last axis of x", d);
        KernelChecks.Fits32(Op, "x", x.Elements);
        long groups = 1;
        if (shift != null && scale != null)
        {
            KernelChecks.F32(Op, "shift", shift);
            KernelChecks.F32(Op, "scale", scale);
            groups = shift.Rank == 2 ? shift.Dim(0) : 0;
            KernelChecks.Positive(Op, "the groups of shift", groups);
            KernelChecks.Shape(Op, "shift", shift, groups, d);
            KernelChecks.Shape(Op, "scale", scale, groups, d);
            KernelChecks.Positive(Op, "rowDiv", rowDiv);
        }
        if (rows == 0) return;
        bool modulate = shift != null;
        int workgroup = seq.Gpu.Info.IsCpu ? 32 : 256;
        var kernel = seq.Gpu.Kernel(Op, Layout, workgroup, modulate ? 1 : 0);
        var (gx, gy) = Grid.Split(rows, 1);
        var push = new Push().UInt((ulong)rows).UInt((ulong)d).Float(eps).UInt((ulong)rowDiv).UInt((ulong)groups);
        seq.Dispatch(kernel, [x, shift ?? x, scale ?? x, y], push, gx, gy);
    }
}
