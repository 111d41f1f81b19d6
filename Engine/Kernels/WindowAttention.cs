namespace T2X.Vulkan.Kernels;

/// <summary>
/// A token grid of Frames × Height × Width cut into windows of WindowFrames × WindowHeight × WindowWidth tokens
/// (docs/ptdit.md §5: window p = (i_f·nh + i_h)·nw + i_w, in-window token n = (x·ch + y)·cw + z).
/// </summary>
public readonly record struct WindowGrid(int Frames, int Height, int Width, int WindowFrames, int WindowHeight, int WindowWidth)
{
    /// <summary>Windows per sample, P.</summary>
    public int Windows => Frames / WindowFrames * (Height / WindowHeight) * (Width / WindowWidth);
    /// <summary>Tokens per window, N.</summary>
    public int Tokens => WindowFrames * WindowHeight * WindowWidth;

    internal void Check(string op)
    {
        if (Frames < 1 || Height < 1 || Width < 1 || WindowFrames < 1 || WindowHeight < 1 || WindowWidth < 1
            || Frames % WindowFrames != 0 || Height % WindowHeight != 0 || Width % WindowWidth != 0)
            throw new ArgumentException($"{op}: grid {Frames}×{Height}×{Width} must be a positive whole number of windows {WindowFrames}×{WindowHeight}×{WindowWidth}");
    }
}

/// <summary>
/// Multi-head self-attention inside each window of hidden states in the window-major layout [B·P, N, C], and the
/// shifted variant (docs/ptdit.md §6 and §7.4): attention inside the windows of the grid rolled by half a window,
/// with the Swin region mask (−10000 between tokens of different regions), each result written back to its token's
/// place in the normal layout. The roll, mask and inverse roll are index arithmetic in the kernel: no copies.
/// Shader: Shaders/window_attention.comp (core: Shaders/include/attention_core.glsl).
/// </summary>
public static class WindowAttention
{
    readonly record struct Push(uint N, uint Windows, uint Frames, uint Height, uint Width, uint WindowFrames, uint WindowHeight, uint WindowWidth,
        int QBase, int QStride, int KBase, int KStride, int VBase, int VStride, uint OStride, float Scale);
    readonly record struct Spec(AttentionCoreSpec Core, Bool32 Shifted);
    static readonly KernelDef<Push, Spec> Def = new("window_attention", Access.ReadTexel, Access.ReadTexel, Access.ReadTexel, Access.Write);

    /// <summary>
    /// Records o = attention of q over k, v within windows. q, k, v: f32 [B·P, N, C] column slices (see
    /// <see cref="AttentionInput"/>); o: f32 [B·P, N, heads·headDim]. The scale multiplies the dot product.
    /// </summary>
    public static void Record(Sequence seq, AttentionInput q, AttentionInput k, AttentionInput v, Tensor o,
        int heads, int headDim, float scale, WindowGrid grid, bool shifted,
        AttentionVariant variant = AttentionVariant.Auto)
    {
        const string op = "window attention";
        AttentionSetup.CheckHeads(op, heads, headDim);
        grid.Check(op);
        long rows = q.Tensor.Rank == 3 ? q.Tensor.Shape[0] : 0, n = grid.Tokens;
        if (rows < 1 || rows % grid.Windows != 0 || rows > 65535)
            throw new ArgumentException($"{op}: q must be [B·P, N, C] with P = {grid.Windows} windows per sample (B·P ≤ 65535); got {q.Tensor}");
        AttentionSetup.CheckInput(op, "q", q, rows, n, heads, headDim);
        AttentionSetup.CheckInput(op, "k", k, rows, n, heads, headDim);
        AttentionSetup.CheckInput(op, "v", v, rows, n, heads, headDim);
        long width = (long)heads * headDim;
        if (o.DType != DType.F32 || o.Rank != 3 || o.Shape[0] != rows || o.Shape[1] != n || o.Shape[2] != width)
            throw new ArgumentException($"{op}: o must be f32 [{rows}, {n}, {width}]; got {o}");

        var gpu = seq.Gpu;
        var (spec, perGroup) = AttentionSetup.Variant(gpu, variant, headDim);
        var kernel = Def.Get(gpu, new Spec(spec, shifted));
        var (qa, qBase, qStride) = AttentionSetup.Texels(op, "q", gpu, q);
        var (ka, kBase, kStride) = AttentionSetup.Texels(op, "k", gpu, k);
        var (va, vBase, vStride) = AttentionSetup.Texels(op, "v", gpu, v);
        var push = checked(new Push((uint)n, (uint)grid.Windows, (uint)grid.Frames, (uint)grid.Height, (uint)grid.Width,
            (uint)grid.WindowFrames, (uint)grid.WindowHeight, (uint)grid.WindowWidth,
            qBase, qStride, kBase, kStride, vBase, vStride, (uint)(width / 4), scale));
        seq.Dispatch(kernel, [qa, ka, va, o], push, Grid.Groups(n, perGroup), (uint)heads, (uint)rows);
    }
}
