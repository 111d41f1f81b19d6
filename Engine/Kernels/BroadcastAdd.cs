namespace T2X.Vulkan.Kernels;

/// <summary>y[i] = a[i] + b[i mod |b|] (f32): adds one table, e.g. the position table [P·N, D], to every
/// sample of a [B, P·N, D] tensor. y may alias a. Shader: Shaders/broadcast_add.comp.</summary>
public static class BroadcastAdd
{
    const string Op = "broadcast_add";
    static readonly KernelLayout Layout = KernelLayout.Of(8, Access.Read, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor a, Tensor b, Tensor y)
    {
        KernelChecks.F32(Op, "a", a);
        KernelChecks.F32(Op, "b", b);
        KernelChecks.F32(Op, "y", y);
        KernelChecks.Shape(Op, "y", y, a.Shape);
        KernelChecks.Positive(Op, "the size of b", b.Elements);
        if (a.Elements % b.Elements != 0)
            throw new ArgumentException($"{Op}: the size of a {a} must be a multiple of the size of b {b}");
        KernelChecks.Fits32(Op, "a", a.Elements);
        var (gx, gy) = Grid.Split(a.Elements, 256);
        seq.Dispatch(seq.Gpu.Kernel(Op, Layout), [a, b, y], new Push().UInt((ulong)a.Elements).UInt((ulong)b.Elements), gx, gy);
    }
}
