namespace T2X.Vulkan.Kernels;

/// <summary>
/// rgba [H, W, 4] = (planes[0], planes[1], planes[2], 1) from planes [3, H, W] (f32): the layout the viewer keeps
/// its frame in, so presenting reads one RGBA texel per bilinear tap. Shader: Shaders/present_pack.comp.
/// </summary>
public static class PresentPack
{
    const string Op = "present_pack";
    static readonly KernelLayout Layout = KernelLayout.Of(4, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor planes, Tensor rgba)
    {
        KernelChecks.F32(Op, "planes", planes);
        KernelChecks.F32(Op, "rgba", rgba);
        if (planes.Rank != 3 || planes.Dim(0) != 3) throw new ArgumentException($"{Op}: planes must be [3, H, W], got {planes}");
        long h = planes.Dim(1), w = planes.Dim(2);
        KernelChecks.Shape(Op, "rgba", rgba, h, w, 4);
        KernelChecks.Fits32(Op, "rgba", rgba.Elements);
        var (gx, gy) = Grid.Split(h * w, 256);
        seq.Dispatch(seq.Gpu.Kernel(Op, Layout), [planes, rgba], new Push().UInt((ulong)(h * w)), gx, gy);
    }
}
