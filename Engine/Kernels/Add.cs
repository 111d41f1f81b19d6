namespace T2X.Vulkan.Kernels;

/// <summary>y = a + alpha·b elementwise (f32). Shader: Shaders/add.comp.</summary>
public static class Add
{
    const uint Workgroup = 256;
    readonly record struct Push(uint N, float Alpha);
    static readonly KernelDef<Push, WorkgroupSpec> Def = new("add", Access.Read, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor a, Tensor b, Tensor y, float alpha = 1f)
    {
        if (a.Elements != b.Elements || a.Elements != y.Elements)
            throw new ArgumentException($"add: shapes {a}, {b}, {y} differ in size");
        var kernel = Def.Get(seq.Gpu, new WorkgroupSpec(Workgroup));
        var (gx, gy) = Grid.Split(a.Elements, Workgroup);
        seq.Dispatch(kernel, [a, b, y], checked(new Push((uint)a.Elements, alpha)), gx, gy);
    }
}
