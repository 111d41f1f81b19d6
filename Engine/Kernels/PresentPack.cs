namespace T2X.Vulkan.Kernels;

/// <summary>
/// rgba [H, W, 4] = (planes[0], planes[1], planes[2], 1) from planes [3, H, W] (f32): the layout the viewer keeps
/// its frame in, so presenting reads one RGBA texel per bilinear tap. Shader: Shaders/present_pack.comp.
/// </summary>
public static class PresentPack
{
    const string Op = "present_pack";
    const uint Workgroup = 256;
    readonly record struct Push(uint Pixels);
    static readonly KernelDef<Push, WorkgroupSpec> Def = new(Op, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor planes, Tensor rgba)
    {
        KernelChecks.F32(Op, "planes", planes);
        KernelChecks.F32(Op, "rgba", rgba);
        if (planes.Rank != 3 || planes.Dim(0) != 3) throw new ArgumentException($"{Op}: planes must be [3, H, W], got {planes}");
        long h = planes.Dim(1), w = planes.Dim(2);
        KernelChecks.Shape(Op, "rgba", rgba, h, w, 4);
        KernelChecks.Fits32(Op, "rgba", rgba.Elements);
        var (gx, gy) = Grid.Split(h * w, Workgroup);
        seq.Dispatch(Def.Get(seq.Gpu, new WorkgroupSpec(Workgroup)), [planes, rgba], checked(new Push((uint)(h * w))), gx, gy);
    }
}
