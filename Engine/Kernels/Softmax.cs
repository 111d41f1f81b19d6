namespace T2X.Vulkan.Kernels;

/// <summary>In-place row softmax x[r, :] = softmax(scale · x[r, :]) of f32 x [rows, N]. Shader: Shaders/softmax.comp.
/// For attention whose head is too wide for the fused Attention kernel (the VAE's single 512-channel head).</summary>
public static class Softmax
{
    const string Op = "softmax";
    const uint Workgroup = 256;
    readonly record struct Push(uint Rows, uint N, float Scale);
    static readonly KernelDef<Push, WorkgroupSpec> Def = new(Op, Access.Write);

    public static void Record(Sequence seq, Tensor x, float scale) => Record(seq, x, scale, BindingLimits.Of(seq.Gpu));

    /// <summary>Rows are split into chunks that each fit one binding (the VAE's 1024² attention scores are 1 GiB).</summary>
    internal static void Record(Sequence seq, Tensor x, float scale, BindingLimits limits)
    {
        KernelChecks.F32(Op, "x", x);
        long n = x.Dim(-1), rows = x.Rows;
        KernelChecks.Positive(Op, "the last axis of x", n);
        KernelChecks.Fits32(Op, "x", x.Elements);
        var x2 = x.Reshape(rows, n);
        foreach (var (start, count) in RowChunks.Of(Op, rows, n * 4, limits))
        {
            var (gx, gy) = Grid.Split(count, 1);
            seq.Dispatch(Def.Get(seq.Gpu, new WorkgroupSpec(Workgroup)), [x2.Slice(start, count)], checked(new Push((uint)count, (uint)n, scale)), gx, gy, label: $"softmax {x} rows {start}+{count}");
        }
    }
}
