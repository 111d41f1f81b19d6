namespace T2X.Vulkan.Kernels;

/// <summary>
/// adaLN-single modulation vectors: out[j, g, :] = table[j, :] + temb[g, chunk_j], where chunk_j is the
/// j-th D-wide chunk of temb when temb holds several (a block's temb6 [G, 6·D] with its scale_shift_table
/// [6, D] or proxy_scale_shift_table [3, D]), or all of temb when it is [G, D] (the final layer).
/// table is f32/f16/bf16 [R, D]; out is f32 [R, G, D], so out.Slice(j, 1) is the [G, D] vector set
/// LayerNorm and RowScale take. Shader: Shaders/modulation.comp.
/// </summary>
public static class Modulation
{
    const string Op = "modulation";
    const uint Workgroup = 256;
    readonly record struct Push(uint R, uint G, uint D, uint TembWidth, uint ChunkStride);
    readonly record struct Spec(uint WorkgroupSize, int DType);
    static readonly KernelDef<Push, Spec> Def = new(Op, Access.Read, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor table, Tensor temb, Tensor output)
    {
        KernelChecks.Float(Op, "table", table);
        KernelChecks.F32(Op, "temb", temb);
        KernelChecks.F32(Op, "output", output);
        if (table.Rank != 2) throw new ArgumentException($"{Op}: table must be [R, D], got {table}");
        if (temb.Rank != 2) throw new ArgumentException($"{Op}: temb must be [G, chunks·D], got {temb}");
        long r = table.Dim(0), d = table.Dim(1), g = temb.Dim(0), width = temb.Dim(1);
        if (width != d && (width % d != 0 || width / d < r))
            throw new ArgumentException($"{Op}: temb must be [G, {d}] or hold at least {r} chunks of {d} ([G, k·{d}], k ≥ {r}), got {temb}");
        KernelChecks.Shape(Op, "output", output, r, g, d);
        var kernel = Def.Get(seq.Gpu, new Spec(Workgroup, table.DType.ShaderCode()));
        var (gx, gy) = Grid.Split(output.Elements, Workgroup);
        var push = checked(new Push((uint)r, (uint)g, (uint)d, (uint)width, width == d ? 0u : (uint)d));
        seq.Dispatch(kernel, [table, temb, output], push, gx, gy);
    }
}
