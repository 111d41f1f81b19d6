using Silk.NET.Vulkan;

namespace T2X.Vulkan.Kernels;

/// <summary>
/// Embedding gather: ids i32 [..] → y f32 [.., D] with y[t] = table[ids[t]] for a table f32/f16/bf16 [V, D]
/// (rows must be a multiple of 4 bytes: D even for f16/bf16). The table is read through R32_UINT texel
/// views, limited by maxTexelBufferElements rather than maxStorageBufferRange (T5-XXL's 32128 × 4096 f16
/// table is 263 MB); a table larger than one view is split into row ranges, one dispatch each.
/// Ids outside [0, V) produce a zero row; hosts should reject them first with <see cref="CheckIds"/>.
/// Shader: Shaders/embedding.comp.
/// </summary>
public static class Embedding
{
    const string Op = "embedding";
    const uint Workgroup = 256;
    readonly record struct Push(uint Tokens, uint D, int Vocab, int Row0, int Rows, uint First);
    readonly record struct Spec(uint WorkgroupSize, int DType);
    static readonly KernelDef<Push, Spec> Def = new(Op, Access.Read, Access.ReadTexel, Access.Write);

    /// <summary>Throws if any id is outside [0, vocab), naming the first bad position.</summary>
    public static void CheckIds(ReadOnlySpan<int> ids, long vocab)
    {
        for (int i = 0; i < ids.Length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new ArgumentException($"{Op}: token id {ids[i]} at position {i} is outside the vocabulary [0, {vocab})");
    }

    public static void Record(Sequence seq, Tensor ids, Tensor table, Tensor y)
        => Record(seq, ids, table, y, seq.Gpu.Info.MaxTexelBufferElements);

    /// <summary>As Record, with the texels per view given (tests force the split path with a small limit).</summary>
    internal static void Record(Sequence seq, Tensor ids, Tensor table, Tensor y, long maxTexelsPerView)
    {
        if (ids.DType != DType.I32) throw new ArgumentException($"{Op}: ids must be i32, got {ids}");
        KernelChecks.Float(Op, "table", table);
        KernelChecks.F32(Op, "y", y);
        if (table.Rank != 2) throw new ArgumentException($"{Op}: table must be [V, D], got {table}");
        long vocab = table.Dim(0), d = table.Dim(1), rowBytes = d * table.DType.Size();
        if (rowBytes % 4 != 0) throw new ArgumentException($"{Op}: table rows must be a multiple of 4 bytes (even D for f16/bf16), got {table}");
        KernelChecks.Shape(Op, "y", y, [.. ids.Shape, d]);
        KernelChecks.Fits32(Op, "y", y.Elements);
        if (vocab > int.MaxValue) throw new ArgumentException($"{Op}: table has more than 2^31 rows: {table}");
        ulong align = seq.Gpu.Info.OffsetAlignment;
        if (table.Offset % align != 0)
            throw new ArgumentException($"{Op}: table starts at byte {table.Offset}, not a multiple of this device's texel-buffer offset alignment ({align})");

        // Rows per view: within the texel limit, and a multiple of the rows that keep every view's start aligned.
        long wordsPerRow = rowBytes / 4;
        long alignRows = RowChunks.AlignedRows(align, rowBytes);
        long rowsPerView = maxTexelsPerView / wordsPerRow;
        if (rowsPerView < vocab) rowsPerView -= rowsPerView % alignRows;
        if (rowsPerView <= 0)
            throw new ArgumentException($"{Op}: a table row of {wordsPerRow} texels does not fit the device's texel-buffer limit ({maxTexelsPerView})");

        var kernel = Def.Get(seq.Gpu, new Spec(Workgroup, table.DType.ShaderCode()));
        var (gx, gy) = Grid.Split(y.Elements, Workgroup);
        for (long row0 = 0; row0 < vocab; row0 += rowsPerView)
        {
            long rows = Math.Min(rowsPerView, vocab - row0);
            var view = new Arg(table.Buffer, table.Offset + (ulong)(row0 * rowBytes), (ulong)(rows * rowBytes), Format.R32Uint);
            var push = checked(new Push((uint)ids.Elements, (uint)d, (int)vocab, (int)row0, (int)rows, row0 == 0 ? 1u : 0u));
            seq.Dispatch(kernel, [ids, view, y], push, gx, gy);
        }
    }
}
