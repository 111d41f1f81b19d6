namespace T2X.Vulkan.Kernels;

/// <summary>
/// The weight layout the CPU GEMM (Shaders/gemm_texel.comp) reads fastest: W [N, K] cut into panels of
/// <see cref="Columns"/> columns (one workgroup's), each panel stored step by step (8 values of k), and within a
/// step column by column in the order the lanes load them: element (n, k) of panel n / 32 lies at offset
/// ((step · 4 + column group) · 8 + lane) · 8 + k % 8, with step = k / 8, column group = n % 32 / 8, lane = n % 8.
/// So the 8 lanes of one texel load read 256 contiguous bytes (128 for 16-bit weights) and a workgroup reads one
/// stream, where row-major weights make it read 32 rows a whole row apart. A column chunk of whole panels is a
/// contiguous byte range in both layouts, so the GEMM binds chunks the same way. Weights are packed once, when a model
/// is uploaded to a CPU device, and only where it pays (<see cref="Pays"/>).
/// </summary>
public static class GemmPanels
{
    /// <summary>Columns per panel: the texel GEMM's 8 lanes × 4 columns per lane.</summary>
    public const int Columns = Gemm.TexelLanes * Gemm.TexelCols;
    /// <summary>Values of k per step.</summary>
    public const int Step = 8;

    /// <summary>Whether a weight [N, K] can be packed: whole panels and whole steps.</summary>
    public static bool Fits(long n, long k) => n > 0 && k > 0 && n % Columns == 0 && k % Step == 0;

    /// <summary>Whether model uploads pack a weight of this dtype and shape. Timed in turns with row-major weights on
    /// lavapipe (Zen 4, `t2x bench --only gemm`, docs/lavapipe.md §10.1): f32 panels won every round (+1–13%), bf16
    /// ones were even and f16 ones lost most rounds (−6 to −16%), so only f32 weights are packed.</summary>
    public static bool Pays(DType dtype, long n, long k) => dtype == DType.F32 && Fits(n, k);

    /// <summary>Reorders the bytes of a row-major [N, K] weight of <paramref name="elementSize"/>-byte values into panels.</summary>
    public static byte[] Pack(ReadOnlySpan<byte> rowMajor, long n, long k, int elementSize)
    {
        if (!Fits(n, k)) throw new ArgumentException($"gemm panels: a [{n}, {k}] weight is not whole panels of {Columns} columns and steps of {Step} values");
        if (rowMajor.Length != n * k * elementSize) throw new ArgumentException($"gemm panels: {rowMajor.Length} bytes for a [{n}, {k}] weight of {elementSize}-byte values");
        var packed = new byte[rowMajor.Length];
        int run = Step * elementSize;   // one lane's 8 values of one step: contiguous in both layouts
        long at = 0;
        for (long panel = 0; panel < n; panel += Columns)
            for (long step = 0; step < k; step += Step)
                for (int column = 0; column < Columns; column++, at += run)   // column = group · 8 + lane, the load order
                    rowMajor.Slice((int)(((panel + column) * k + step) * elementSize), run).CopyTo(packed.AsSpan((int)at, run));
        return packed;
    }
}
