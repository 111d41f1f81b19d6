namespace T2X.Vulkan.Kernels;

/// <summary>Elementwise activations (the GEMM fuses them too; this is for inputs such as SiLU(temb)).</summary>
public enum ActivationKind
{
    /// <summary>GELU with the tanh approximation.</summary>
    GeluTanh = 0,
    /// <summary>x · sigmoid(x).</summary>
    Silu = 1,
}

/// <summary>y = act(x) elementwise (f32); y may alias x. Shader: Shaders/activation.comp.</summary>
public static class Activation
{
    const string Op = "activation";
    static readonly KernelLayout Layout = KernelLayout.Of(4, Access.Read, Access.Write);

    public static void Record(Sequence seq, ActivationKind kind, Tensor x, Tensor y)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "y", y);
        KernelChecks.Shape(Op, "y", y, x.Shape);
        KernelChecks.Fits32(Op, "x", x.Elements);
        var (gx, gy) = Grid.Split(x.Elements, 256);
        seq.Dispatch(seq.Gpu.Kernel(Op, Layout, (int)kind), [x, y], new Push().UInt((ulong)x.Elements), gx, gy);
    }
}
