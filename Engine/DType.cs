namespace T2X.Vulkan;

/// <summary>Element types a tensor can hold. Activations are F32; weights keep their stored type.</summary>
public enum DType { F32, F16, BF16, I32, I64, U8 }

public static class DTypes
{
    public static int Size(this DType t) => t switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.I64 => 8,
        DType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>Code passed to shaders (specialization constant or push constant) to select the load path.</summary>
    public static int ShaderCode(this DType t) => t switch
    {
        DType.F32 => Kernels.ShaderConstants.DtF32,
        DType.F16 => Kernels.ShaderConstants.DtF16,
        DType.BF16 => Kernels.ShaderConstants.DtBF16,
        _ => throw new ArgumentException($"dtype {t} is not a floating-point weight type"),
    };
}
