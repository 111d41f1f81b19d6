namespace T2X.Vulkan.Kernels;

/// <summary>y[m, :] = x[m, :] · g[(m / rowDiv) % G, :] (f32, g [G, D]): a per-sample channel gate, e.g. the
/// shifted-window gate applied before linear_2 (spec quirk Q10), with the same row mapping as LayerNorm's
/// modulation. y may alias x. Shader: Shaders/row_scale.comp.</summary>
public static class RowScale
{
    const string Op = "row_scale";
    static readonly KernelLayout Layout = KernelLayout.Of(16, Access.Read, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor x, Tensor gate, Tensor y, long rowDiv)
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
        var (gx, gy) = Grid.Split(x.Elements, 256);
        var push = new Push().UInt((ulong)x.Rows).UInt((ulong)d).UInt((ulong)rowDiv).UInt((ulong)groups);
        seq.Dispatch(seq.Gpu.Kernel(Op, Layout), [x, gate, y], push, gx, gy);
    }
}
