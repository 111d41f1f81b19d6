namespace T2X.Vulkan.Kernels;

/// <summary>
/// The official tile cross-fade (CausalVAE.blend_v / blend_h, docs/vae.md §7.2) on one plane of two neighbouring decoded tiles:
/// the first <c>extent</c> rows (or columns) of b fade in from the last rows (columns) of a, in place on b.
/// Shader: Shaders/tile_blend.comp. Planes are f32 [H, W] tensors (one sample, channel and frame of a tile).
/// </summary>
public static class TileBlend
{
    const string Op = "tile_blend";
    const uint Workgroup = 256;
    readonly record struct Push(uint AH, uint AW, uint BH, uint BW, uint Extent, uint AOffset, uint BOffset);
    readonly record struct Spec(uint WorkgroupSize, Bool32 Columns);
    static readonly KernelDef<Push, Spec> Def = new(Op, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor a, Tensor b, int extent, bool columns)
    {
        KernelChecks.F32(Op, "a", a);
        KernelChecks.F32(Op, "b", b);
        if (a.Rank != 2 || b.Rank != 2) throw new ArgumentException($"{Op}: a and b must be planes [H, W], got a {a}, b {b}");
        long ah = a.Shape[0], aw = a.Shape[1], bh = b.Shape[0], bw = b.Shape[1];
        if (columns ? ah != bh : aw != bw)
            throw new ArgumentException($"{Op}: blending {(columns ? "columns needs equally high" : "rows needs equally wide")} planes, got a {a}, b {b}");
        long limit = columns ? Math.Min(aw, bw) : Math.Min(ah, bh);
        if (extent < 0 || extent > limit) throw new ArgumentException($"{Op}: extent {extent} must be in [0, {limit}] for a {a}, b {b}");
        if (extent == 0) return;
        var (aArg, aSkip) = Planes.Bind(a);
        var (bArg, bSkip) = Planes.Bind(b);
        var push = checked(new Push((uint)ah, (uint)aw, (uint)bh, (uint)bw, (uint)extent, (uint)aSkip, (uint)bSkip));
        long n = (long)extent * (columns ? bh : bw);
        seq.Dispatch(Def.Get(seq.Gpu, new Spec(Workgroup, columns)), [aArg, bArg], push, Grid.Groups(n, Workgroup), label: $"{Op} {(columns ? "columns" : "rows")} {extent}");
    }
}

/// <summary>Bindings of 2-D planes that start anywhere in a buffer: the binding begins at the device's offset
/// alignment below the plane and the shader skips the elements before it.</summary>
static class Planes
{
    public static (Arg arg, ulong skip) Bind(Tensor plane)
    {
        ulong align = plane.Buffer.Gpu.Info.OffsetAlignment;
        ulong aligned = plane.Offset / align * align;
        var arg = new Arg(plane.Buffer, aligned, plane.Offset + plane.Bytes - aligned);
        if (arg.Range > RowChunks.BindingLimit(plane.Buffer.Gpu))
            throw new ArgumentException($"a plane {plane} is larger than this device's {RowChunks.BindingLimit(plane.Buffer.Gpu)} bytes per binding");
        return (arg, (plane.Offset - aligned) / 4);
    }
}
