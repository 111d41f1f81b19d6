namespace T2X.Vulkan.Kernels;

/// <summary>y[m, :] = x[m, :] · g[(m / rowDiv) % G, :] (f32, g [G, D]): a per-sample channel gate, e.g. the
/// shifted-window gate applied before linear_2 (docs/ptdit.md, quirk Q10), with the same row mapping as LayerNorm's
/// modulation. D must be a multiple of 4 (vec4 texel loads). y may alias x. Shader: Shaders/row_scale.comp.</summary>
public static class RowScale
{
    const string Op = "row_scale";
    readonly record struct Push(uint Rows, uint D4, uint RowDiv, uint Groups, uint Row0);
    static readonly KernelDef<Push, WorkgroupSpec> Def = new(Op, Access.ReadTexel, Access.ReadTexel, Access.Write);

    public static void Record(Sequence seq, Tensor x, Tensor gate, Tensor y, long rowDiv)
        => Record(seq, x, gate, y, rowDiv, BindingLimits.Of(seq.Gpu));

    /// <summary>As Record, with the binding limits given (tests force the chunked path with a small limit).</summary>
    internal static void Record(Sequence seq, Tensor x, Tensor gate, Tensor y, long rowDiv, BindingLimits limits)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "gate", gate);
        KernelChecks.F32(Op, "y", y);
        KernelChecks.Shape(Op, "y", y, x.Shape);
        long d = x.Dim(-1);
        long groups = gate.Rank == 2 ? gate.Dim(0) : 0;
        KernelChecks.Positive(Op, "the groups of gate", groups);
        KernelChecks.Shape(Op, "gate", gate, groups, d);
        KernelChecks.Positive(Op, "rowDiv", rowDiv);
        KernelChecks.Fits32(Op, "x", x.Elements);
        var gpu = seq.Gpu;
        var gv = TexelViews.Vec4(gpu, Op, "gate", gate);
        long rows = x.Rows;
        // One workgroup per row; on lavapipe one subgroup, whose lanes walk the row's vec4 columns.
        var kernel = Def.Get(gpu, new WorkgroupSpec(gpu.Info.IsCpu ? gpu.Info.SubgroupSize : 64));
        Tensor x2 = x.Reshape(rows, d), y2 = y.Reshape(rows, d);
        foreach (var (start, count) in RowChunks.Of(Op, rows, d * 4, limits))
        {
            var (gx, gy) = Grid.Split(count, 1);
            var push = checked(new Push((uint)count, (uint)(d / 4), (uint)rowDiv, (uint)groups, (uint)start));
            seq.Dispatch(kernel, [TexelViews.Vec4(gpu, Op, "x", x2.Slice(start, count)), gv, y2.Slice(start, count)], push, gx, gy);
        }
    }
}
