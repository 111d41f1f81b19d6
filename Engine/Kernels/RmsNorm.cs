namespace T2X.Vulkan.Kernels;

/// <summary>
/// T5 RMSNorm (transformers' T5LayerNorm) over the last axis: y = w · (x · rsqrt(mean(x²) + eps)),
/// x and y f32, weight f32/f16/bf16 [D], statistics in f32.
/// By default the weight is only widened to f32: that is the official T5 run, whose f16 files are loaded
/// as an f32 model. <c>halfPrecisionModel</c> instead reproduces what transformers does for a model whose
/// weight really is f16/bf16: the normalised value is cast to the weight dtype and the product is
/// computed (rounded) in that dtype. Shader: Shaders/rms_norm.comp. y may alias x.
/// </summary>
public static class RmsNorm
{
    const string Op = "rms_norm";
    readonly record struct Push(uint Rows, uint D, float Eps);
    readonly record struct Spec(uint WorkgroupSize, int DType, Bool32 HalfModel);
    static readonly KernelDef<Push, Spec> Def = new(Op, Access.Read, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor x, Tensor weight, Tensor y, float eps, bool halfPrecisionModel = false)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "y", y);
        KernelChecks.Float(Op, "weight", weight);
        KernelChecks.Shape(Op, "y", y, x.Shape);
        long d = x.Dim(-1), rows = x.Rows;
        KernelChecks.Positive(Op, "the last axis of x", d);
        KernelChecks.Shape(Op, "weight", weight, d);
        KernelChecks.Fits32(Op, "x", x.Elements);
        if (rows == 0) return;
        uint workgroup = seq.Gpu.Info.IsCpu ? 32u : 256u;
        var kernel = Def.Get(seq.Gpu, new Spec(workgroup, weight.DType.ShaderCode(), halfPrecisionModel));
        var (gx, gy) = Grid.Split(rows, 1);
        seq.Dispatch(kernel, [x, weight, y], checked(new Push((uint)rows, (uint)d, eps)), gx, gy);
    }
}
