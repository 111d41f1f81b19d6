namespace T2X.Vulkan.Kernels;

/// <summary>In-place row softmax x[r, :] = softmax(scale · x[r, :]) of f32 x [rows, N]. Shader: Shaders/softmax.comp.
/// For attention whose head is too wide for the fused Attention kernel (the VAE's single 512-channel head).</summary>
public static class Softmax
{
    const string Op = "softmax";
    static readonly KernelLayout Layout = KernelLayout.Of(12, Access.Write);

    public static void Record(Sequence seq, Tensor x, float scale)
    {
        KernelChecks.F32(Op, "x", x);
        long n = x.Dim(-1), rows = x.Rows;
        KernelChecks.Positive(Op, "the last axis of x", n);
        KernelChecks.Fits32(Op, "x", x.Elements);
        if (x.Bytes > seq.Gpu.Info.MaxStorageBufferRange)
            throw new ArgumentException($"{Op}: x {x} is larger than this device's {seq.Gpu.Info.MaxStorageBufferRange} bytes per binding");
        var (gx, gy) = Grid.Split(rows, 1);
        seq.Dispatch(seq.Gpu.Kernel(Op, Layout), [x], new Push().UInt((ulong)rows).UInt((ulong)n).Float(scale), gx, gy, label: $"softmax {x}");
    }
}
