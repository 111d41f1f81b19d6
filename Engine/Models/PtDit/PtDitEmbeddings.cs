using T2X.Vulkan.Kernels;

namespace T2X.Vulkan.Models.PtDit;

/// <summary>
/// The PT-DiT's fixed (parameter-free) embeddings, computed on the host once per resolution or step:
/// the timestep sinusoid (docs/ptdit.md §4.3) and the 3-D sine-cosine position table (docs/ptdit.md §4.2).
/// </summary>
public static class PtDitEmbeddings
{
    /// <summary>Width of the timestep sinusoid, the official Timesteps(256): the input width of timestep_embedder.linear_1.</summary>
    public const int TimestepChannels = 256;

    /// <summary>
    /// diffusers Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0) for one timestep:
    /// [cos(t·f_0..f_{dim/2-1}) | sin(...)], f_k = exp(−ln(10000)·k/(dim/2)). The official code evaluates it
    /// in float32 (exponent, frequency and t·f each rounded to float32); those roundings are reproduced
    /// because at t ≈ 1000 the float32 argument moves the result by up to ~3e-5. sin/cos are evaluated in
    /// float64 and rounded. To mimic the official bf16 run, round t to bf16 first (docs/ptdit.md, quirk Q3).
    /// </summary>
    public static float[] TimestepSinusoid(float t, int dim = TimestepChannels)
    {
        if (dim <= 0 || dim % 2 != 0) throw new ArgumentException($"timestep sinusoid: width must be even and positive, got {dim}");
        int half = dim / 2;
        float negLogPeriod = (float)-Math.Log(10000.0);
        var e = new float[dim];
        for (int k = 0; k < half; k++)
        {
            float exponent = negLogPeriod * k / half;
            float freq = (float)Math.Exp(exponent);
            float arg = t * freq;
            e[k] = (float)Math.Cos(arg);
            e[half + k] = (float)Math.Sin(arg);
        }
        return e;
    }

    /// <summary>
    /// The 3-D sin-cos position table [frames, rows·cols, d] (row-major spatial index n = r·cols + c), in
    /// float64 rounded to float32. Channel bands: [0, d/4) = sc(d/8, f); [d/4, 5d/8) = sc(3d/16, a);
    /// [5d/8, d) = sc(3d/16, q) with a = n mod rows and q = n / rows. For square grids a is the column and
    /// q the row; for non-square grids this is the official code's transposed reading, reproduced on purpose
    /// (docs/ptdit.md, quirk Q2). Spatial positions are divided by interpolationScale (1 in the released model).
    /// </summary>
    public static float[] PositionTable(int frames, int rows, int cols, int d, double interpolationScale = 1.0)
    {
        if (d <= 0 || d % 16 != 0) throw new ArgumentException($"position table: width must be a positive multiple of 16, got {d}");
        if (frames <= 0 || rows <= 0 || cols <= 0) throw new ArgumentException($"position table: grid {frames}×{rows}×{cols} must be positive");
        int tokens = rows * cols, temporal = d / 4, spatial = 3 * d / 8;
        var table = new float[(long)frames * tokens * d];
        for (int f = 0; f < frames; f++)
            for (int n = 0; n < tokens; n++)
            {
                var row = table.AsSpan((int)(((long)f * tokens + n) * d), d);
                SinCos(row[..temporal], f);
                SinCos(row.Slice(temporal, spatial), (n % rows) / interpolationScale);
                SinCos(row.Slice(temporal + spatial, spatial), (n / rows) / interpolationScale);
            }
        return table;
    }

    /// <summary>sc(K, pos) into a 2K-wide span: [sin(pos·w_k) | cos(pos·w_k)], w_k = 10000^(−k/K).</summary>
    static void SinCos(Span<float> into, double pos)
    {
        int k2 = into.Length / 2;
        for (int k = 0; k < k2; k++)
        {
            double angle = pos * (1.0 / Math.Pow(10000.0, (double)k / k2));
            into[k] = (float)Math.Sin(angle);
            into[k2 + k] = (float)Math.Cos(angle);
        }
    }

    /// <summary>
    /// Reorders per-token rows [frames·rows·cols, d] (grid order, e.g. <see cref="PositionTable"/>) into the
    /// window-major token order of the hidden states, [P·N, d] (docs/ptdit.md §5), so the table can be added
    /// to every sample with BroadcastAdd.
    /// </summary>
    public static float[] ToWindowOrder(float[] grid, int frames, int rows, int cols, int d, WindowSize window)
    {
        if (grid.Length != (long)frames * rows * cols * d)
            throw new ArgumentException($"window order: {grid.Length} values for a {frames}×{rows}×{cols} grid of width {d}");
        if (frames % window.Frames != 0 || rows % window.Rows != 0 || cols % window.Cols != 0)
            throw new ArgumentException($"window order: grid {frames}×{rows}×{cols} is not a multiple of the window {window}");
        int nh = rows / window.Rows, nw = cols / window.Cols;
        var result = new float[grid.Length];
        for (int f = 0; f < frames; f++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    long win = ((long)(f / window.Frames) * nh + r / window.Rows) * nw + c / window.Cols;
                    long n = ((long)(f % window.Frames) * window.Rows + r % window.Rows) * window.Cols + c % window.Cols;
                    long from = (((long)f * rows + r) * cols + c) * d, to = (win * window.Tokens + n) * d;
                    Array.Copy(grid, from, result, to, d);
                }
        return result;
    }
}
