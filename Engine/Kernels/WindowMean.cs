namespace T2X.Vulkan.Kernels;

/// <summary>
/// Proxy tokens: x [windows, N, D] (N = window.Tokens) → y [windows · Kp, D] in (window, j, k) order, with
/// Kp = (window.Rows / proxy.Rows) · (window.Cols / proxy.Cols) proxies per window. With proxy = window
/// (the released config) each proxy is the mean of its window; finer proxy ratios average the strided
/// lattice of docs/ptdit.md, quirk Q6. y may be shaped [B, P·Kp, D]. D must be a multiple of 4 (vec4 texel loads).
/// Windows are processed in chunks that fit one binding. Shader: Shaders/window_mean.comp.
/// </summary>
public static class WindowMean
{
    const string Op = "window_mean";
    const uint Workgroup = 64;
    readonly record struct Push(uint Windows, uint D4, uint WindowFrames, uint WindowRows, uint WindowCols, uint ProxyRowStride, uint ProxyColStride);
    static readonly KernelDef<Push, WorkgroupSpec> Def = new(Op, Access.ReadTexel, Access.Write);

    /// <summary>Proxies per window for a window and the official proxy_compress_ratios.</summary>
    public static int ProxiesPerWindow(WindowSize window, WindowSize proxy)
    {
        if (proxy.Frames != window.Frames || proxy.Rows <= 0 || proxy.Cols <= 0
            || window.Rows % proxy.Rows != 0 || window.Cols % proxy.Cols != 0)
            throw new ArgumentException($"{Op}: proxy ratios {proxy} must divide the window {window} with the same frame count");
        return window.Rows / proxy.Rows * (window.Cols / proxy.Cols);
    }

    public static void Record(Sequence seq, Tensor x, Tensor y, WindowSize window, WindowSize proxy)
        => Record(seq, x, y, window, proxy, BindingLimits.Of(seq.Gpu));

    /// <summary>As Record, with the binding limits given (tests force the chunked path with a small limit).</summary>
    internal static void Record(Sequence seq, Tensor x, Tensor y, WindowSize window, WindowSize proxy, BindingLimits limits)
    {
        int kp = ProxiesPerWindow(window, proxy);
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "y", y);
        if (x.Rank != 3 || x.Dim(1) != window.Tokens)
            throw new ArgumentException($"{Op}: x must be [windows, {window.Tokens}, D] for window {window}, got {x}");
        long windows = x.Dim(0), d = x.Dim(2);
        if (y.Dim(-1) != d) throw new ArgumentException($"{Op}: y must have {d} channels like x, got {y}");
        KernelChecks.Elements(Op, "y", y, windows * kp * d, $"{windows} windows × {kp} proxies × {d}");
        KernelChecks.Fits32(Op, "x", x.Elements);
        var y2 = y.Reshape(windows * kp, d);
        foreach (var (start, count) in RowChunks.Of(Op, windows, window.Tokens * d * 4, limits))
        {
            var (gx, gy) = Grid.Split(count * kp * d / 4, Workgroup);
            var push = checked(new Push((uint)count, (uint)(d / 4), (uint)window.Frames, (uint)window.Rows,
                (uint)window.Cols, (uint)(window.Rows / proxy.Rows), (uint)(window.Cols / proxy.Cols)));
            seq.Dispatch(Def.Get(seq.Gpu, new WorkgroupSpec(Workgroup)), [TexelViews.Vec4(seq.Gpu, Op, "x", x.Slice(start, count)), y2.Slice(start * kp, count * kp)], push, gx, gy);
        }
    }
}
