namespace T2X.Vulkan.Kernels;

/// <summary>
/// A window of tokens (frames, rows, columns), the official <c>compress_ratios</c> (released: 1, 8, 8).
/// Hidden states are [batch·windows, Frames·Rows·Cols, D] in window-major order (docs/ptdit.md §5).
/// </summary>
public readonly record struct WindowSize(int Frames, int Rows, int Cols)
{
    public int Tokens => Frames * Rows * Cols;

    public override string ToString() => $"({Frames}, {Rows}, {Cols})";
}
