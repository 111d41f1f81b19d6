namespace T2X.Vulkan.Kernels;

/// <summary>Argument checks shared by the kernels: each failure names the op, the tensor and what was expected.</summary>
static class KernelChecks
{
    public static void F32(string op, string name, Tensor t)
    {
        if (t.DType != DType.F32) throw new ArgumentException($"{op}: {name} must be f32, got {t}");
    }

    public static void Float(string op, string name, Tensor t)
    {
        if (t.DType is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"{op}: {name} must be f32, f16 or bf16, got {t}");
    }

    public static void Shape(string op, string name, Tensor t, params long[] shape)
    {
        if (!t.Shape.AsSpan().SequenceEqual(shape))
            throw new ArgumentException($"{op}: {name} must have shape [{string.Join(",", shape)}], got {t}");
    }

    public static void Elements(string op, string name, Tensor t, long elements, string expected)
    {
        if (t.Elements != elements)
            throw new ArgumentException($"{op}: {name} must hold {elements} elements ({expected}), got {t}");
    }

    public static void Positive(string op, string name, long value)
    {
        if (value <= 0) throw new ArgumentException($"{op}: {name} must be positive, got {value}");
    }

    /// <summary>Flat element counts are indexed with 32-bit integers in the shaders.</summary>
    public static void Fits32(string op, string name, long elements)
    {
        if (elements > uint.MaxValue) throw new ArgumentException($"{op}: {name} has {elements} elements, more than 2^32");
    }
}
