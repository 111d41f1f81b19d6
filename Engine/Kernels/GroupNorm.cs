namespace T2X.Vulkan.Kernels;

/// <summary>
/// GroupNorm (torch.nn.GroupNorm with affine parameters) of channel-last x [B, P, C], P = frames × rows × cols:
/// statistics per sample and group of C/G contiguous channels over all P positions, biased variance, optionally
/// fused with SiLU. Shader: Shaders/group_norm.comp. y may not alias x. C must be a multiple of 4 (x is read as
/// RGBA32F texels). x may exceed maxStorageBufferRange (one texel view); y is written in row chunks that each fit a
/// binding, every chunk's dispatch recomputing the statistics from all of x.
/// </summary>
public static class GroupNorm
{
    const string Op = "group_norm";
    const uint Workgroup = 256;
    readonly record struct Push(uint Positions, uint Channels, uint PerGroup, float Eps, uint Row0, uint Rows);
    readonly record struct Spec(uint WorkgroupSize, Bool32 Silu);
    static readonly KernelDef<Push, Spec> Def = new(Op, Access.ReadTexel, Access.Read, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, bool silu)
        => Record(seq, x, gamma, beta, y, groups, eps, silu, BindingLimits.Of(seq.Gpu));

    internal static void Record(Sequence seq, Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, bool silu, BindingLimits limits)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "gamma", gamma);
        KernelChecks.F32(Op, "beta", beta);
        KernelChecks.F32(Op, "y", y);
        if (x.Rank != 3) throw new ArgumentException($"{Op}: x must be [B, positions, C], got {x}");
        long b = x.Shape[0], p = x.Shape[1], c = x.Shape[2];
        if (groups < 1 || c % groups != 0) throw new ArgumentException($"{Op}: {c} channels of x {x} do not split into {groups} groups");
        if (b < 1 || b > 65535 || groups > 65535) throw new ArgumentException($"{Op}: need 1 ≤ B ≤ 65535 and ≤ 65535 groups, got x {x}, {groups} groups");
        KernelChecks.Shape(Op, "gamma", gamma, c);
        KernelChecks.Shape(Op, "beta", beta, c);
        KernelChecks.Shape(Op, "y", y, x.Shape);
        KernelChecks.Fits32(Op, "x", x.Elements);
        var xView = TexelViews.Vec4(seq.Gpu, Op, "x", x);
        var kernel = Def.Get(seq.Gpu, new Spec(Workgroup, silu));
        foreach (var (start, count) in RowChunks.Of(Op, b * p, c * 4, limits))
        {
            var yChunk = new Arg(y.Buffer, y.Offset + (ulong)(start * c * 4), (ulong)(count * c * 4));
            var push = checked(new Push((uint)p, (uint)c, (uint)(c / groups), eps, (uint)start, (uint)count));
            seq.Dispatch(kernel, [xView, gamma, beta, yChunk], push, (uint)groups, (uint)b, label: $"group_norm {x} rows {start}+{count}");
        }
    }
}
