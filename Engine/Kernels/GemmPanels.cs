using System.Runtime.InteropServices;
using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Kernels;

/// <summary>
/// The weight layout the CPU GEMM (Shaders/gemm_texel.comp) reads fastest: W [N, K] cut into panels of
/// <see cref="Columns"/> columns (one workgroup's), each panel stored run by run, a run being 32 bytes of one column's
/// consecutive k (8 f32 values: one step of the GEMM; 16 16-bit values: two steps), and within a run index the columns
/// in the order the lanes load them: column group (n % 32 / 8), then lane (n % 8). So the 8 lanes of one texel load
/// read 8 texels 32 bytes apart inside 256 contiguous bytes, and a workgroup reads one stream, where row-major weights
/// make it read 32 rows a whole row apart. (Runs of 16 bytes, one step of 16-bit values, measured slower than
/// row-major: four lanes then share each cache line of a load; docs/lavapipe.md §10.1.) A column chunk of whole panels
/// is a contiguous byte range in both layouts, so the GEMM binds chunks the same way. Weights are packed once, when a
/// model is uploaded to a CPU device.
/// </summary>
public static class GemmPanels
{
    /// <summary>Columns per panel: the texel GEMM's 8 lanes × 4 columns per lane.</summary>
    public const int Columns = Gemm.TexelLanes * Gemm.TexelCols;
    /// <summary>Bytes of one column's consecutive values that lie together.</summary>
    public const int RunBytes = 32;

    /// <summary>Whether a weight [N, K] of this dtype can be packed: whole panels and whole runs (K a multiple of 8 in
    /// f32, of 16 in f16 and bf16).</summary>
    public static bool Fits(DType dtype, long n, long k) =>
        dtype is DType.F32 or DType.F16 or DType.BF16 && n > 0 && k > 0 && n % Columns == 0 && k % (RunBytes / dtype.Size()) == 0;

    /// <summary>Writes a row-major weight [N, …] (read as [N, K]) into a buffer at an offset, in panels, and returns the
    /// tensor that says so. A host-visible buffer (every CPU device's) is packed in place, without a copy between.</summary>
    public static Tensor Write(GpuBuffer buffer, ulong offset, HostTensor weight)
    {
        long n = weight.Shape.Length >= 2 ? weight.Shape[0] : 0, k = n > 0 ? weight.Elements / n : 0;
        if (buffer.IsMapped && offset + (ulong)weight.Bytes.Length <= (ulong)buffer.Mapped.Length)
            PackInto(weight.Bytes, buffer.Mapped.Slice(checked((int)offset), weight.Bytes.Length), weight.DType, n, k);
        else
            buffer.Upload(Pack(weight.Bytes, weight.DType, n, k), offset);
        return new Tensor(buffer, offset, weight.DType, weight.Shape).WithLayout(TensorLayout.GemmPanels);
    }

    /// <summary>Reorders a row-major [N, K] weight's bytes into panels.</summary>
    public static byte[] Pack(ReadOnlySpan<byte> rowMajor, DType dtype, long n, long k)
    {
        var packed = new byte[rowMajor.Length];
        PackInto(rowMajor, packed, dtype, n, k);
        return packed;
    }

    /// <summary>Reorders a row-major [N, K] weight's bytes into panels in <paramref name="packed"/> (as long as it).</summary>
    static void PackInto(ReadOnlySpan<byte> rowMajor, Span<byte> packed, DType dtype, long n, long k)
    {
        if (!Fits(dtype, n, k))
            throw new ArgumentException($"gemm panels: a [{n}, {k}] {dtype} weight is not whole panels of {Columns} columns and runs of {RunBytes} bytes");
        if (rowMajor.Length != n * k * dtype.Size() || packed.Length != rowMajor.Length)
            throw new ArgumentException($"gemm panels: {rowMajor.Length} bytes for a [{n}, {k}] {dtype} weight");
        // A run is one 32-byte value: a row of W holds k·size / 32 of them, and the panels take them column by column.
        var from = MemoryMarshal.Cast<byte, Run>(rowMajor);
        var to = MemoryMarshal.Cast<byte, Run>(packed);
        int runsPerRow = checked((int)(k * dtype.Size() / RunBytes)), at = 0;
        for (int panel = 0; panel < n; panel += Columns)
            for (int run = 0; run < runsPerRow; run++)
                for (int column = 0; column < Columns; column++)   // column = group · 8 + lane, the load order
                    to[at++] = from[(panel + column) * runsPerRow + run];
    }

    /// <summary>32 bytes (<see cref="RunBytes"/>), copied as one value.</summary>
    readonly struct Run { readonly long _a, _b, _c, _d; }
}
