namespace T2X.Vulkan.Kernels;

/// <summary>y = a + alpha·b elementwise (f32). Shader: Shaders/add.comp.</summary>
public static class Add
{
    static readonly KernelLayout Layout = KernelLayout.Of(8, Access.Read, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor a, Tensor b, Tensor y, float alpha = 1f)
    {
        if (a.Elements != b.Elements || a.Elements != y.Elements)
            throw new ArgumentException($"add: shapes {a}, {b}, {y} differ in size");
        var kernel = seq.Gpu.Kernel("add", Layout);
        var (gx, gy) = Grid.Split(a.Elements, 256);
        seq.Dispatch(kernel, [a, b, y], new Push().UInt((ulong)a.Elements).Float(alpha), gx, gy);
    }
}
