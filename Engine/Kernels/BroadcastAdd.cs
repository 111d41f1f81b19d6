namespace T2X.Vulkan.Kernels;

/// <summary>y[i] = a[i] + b[i mod |b|] (f32): adds one table, e.g. the position table [P·N, D], to every
/// sample of a [B, P·N, D] tensor. Sizes are multiples of 4 (vec4 texel loads); samples are processed in
/// chunks that fit one binding. y may alias a.
/// Shader: Shaders/broadcast_add.comp.</summary>
public static class BroadcastAdd
{
    const string Op = "broadcast_add";
    const uint Workgroup = 64;
    readonly record struct Push(uint Nb4, uint Repeats);
    static readonly KernelDef<Push, WorkgroupSpec> Def = new(Op, Access.ReadTexel, Access.ReadTexel, Access.Write);

    public static void Record(Sequence seq, Tensor a, Tensor b, Tensor y)
        => Record(seq, a, b, y, BindingLimits.Of(seq.Gpu));

    /// <summary>As Record, with the binding limits given (tests force the chunked path with a small limit).</summary>
    internal static void Record(Sequence seq, Tensor a, Tensor b, Tensor y, BindingLimits limits)
    {
        KernelChecks.F32(Op, "a", a);
        KernelChecks.F32(Op, "b", b);
        KernelChecks.F32(Op, "y", y);
        KernelChecks.Shape(Op, "y", y, a.Shape);
        KernelChecks.Positive(Op, "the size of b", b.Elements);
        if (a.Elements % b.Elements != 0)
            throw new ArgumentException($"{Op}: the size of a {a} must be a multiple of the size of b {b}");
        if (b.Elements % 4 != 0) throw new ArgumentException($"{Op}: the size of b {b} must be a multiple of 4");
        KernelChecks.Fits32(Op, "a", a.Elements);
        var gpu = seq.Gpu;
        // Flat vec4 views: only the element counts matter here, not the shapes.
        var bv = TexelViews.Vec4(gpu, Op, "b", b.Reshape(b.Elements));
        long nb = b.Elements, repeats = a.Elements / nb;
        Tensor a2 = a.Reshape(repeats, nb), y2 = y.Reshape(repeats, nb);
        foreach (var (start, count) in RowChunks.Of(Op, repeats, nb * 4, limits))
        {
            var (gx, gy, gz) = RowGrid.Of(nb / 4, Workgroup, count);
            var av = TexelViews.Vec4(gpu, Op, "a", a2.Slice(start, count));
            seq.Dispatch(Def.Get(gpu, new WorkgroupSpec(Workgroup)), [av, bv, y2.Slice(start, count)], checked(new Push((uint)(nb / 4), (uint)count)), gx, gy, gz);
        }
    }
}
