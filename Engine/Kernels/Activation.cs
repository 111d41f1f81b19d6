namespace T2X.Vulkan.Kernels;

/// <summary>Elementwise activations (the GEMM fuses them too; this is for inputs such as SiLU(temb)).</summary>
public enum ActivationKind
{
    /// <summary>GELU with the tanh approximation.</summary>
    GeluTanh = ShaderConstants.ActGeluTanh,
    /// <summary>x · sigmoid(x).</summary>
    Silu = ShaderConstants.ActSilu,
}

/// <summary>y = act(x) elementwise (f32); y may alias x. Shader: Shaders/activation.comp.</summary>
public static class Activation
{
    const string Op = "activation";
    const uint Workgroup = 256;
    readonly record struct Push(uint N);
    readonly record struct Spec(uint WorkgroupSize, int Activation);
    static readonly KernelDef<Push, Spec> Def = new(Op, Access.Read, Access.Write);

    public static void Record(Sequence seq, ActivationKind kind, Tensor x, Tensor y)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "y", y);
        KernelChecks.Shape(Op, "y", y, x.Shape);
        KernelChecks.Fits32(Op, "x", x.Elements);
        var (gx, gy) = Grid.Split(x.Elements, Workgroup);
        seq.Dispatch(Def.Get(seq.Gpu, new Spec(Workgroup, (int)kind)), [x, y], checked(new Push((uint)x.Elements)), gx, gy);
    }
}
