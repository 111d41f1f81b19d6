using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>
/// The official window-major order of the hidden states (docs/ptdit.md §5, one frame): window p = iH * nW + iW,
/// in-window index n = y * ws + z, grid position (iH * ws + y, iW * ws + z); X is [B * P, N, D], batch-major.
/// The shifted windows roll the grid by ws/2 (docs/ptdit.md §6) and mask pairs that come from different sides of the wrap.
/// </summary>
public sealed class WindowLayout
{
    public readonly int Rows, Cols, WindowSize, Shift;
    public int WindowRows => Rows / WindowSize;
    public int WindowCols => Cols / WindowSize;
    public int Windows => WindowRows * WindowCols;
    public int TokensPerWindow => WindowSize * WindowSize;

    public WindowLayout(int rows, int cols, int windowSize)
    {
        if (rows % windowSize != 0 || cols % windowSize != 0)
            throw new ArgumentException($"token grid {rows}×{cols} is not a multiple of the window {windowSize}");
        Rows = rows; Cols = cols; WindowSize = windowSize; Shift = windowSize / 2;
    }

    /// <summary>[B, rows, cols, D] grid -> [B * P, N, D] windows.</summary>
    public Tensor ToWindows(Tensor grid)
    {
        long b = grid.shape[0], d = grid.shape[3];
        return grid.view(b, WindowRows, WindowSize, WindowCols, WindowSize, d).permute(0, 1, 3, 2, 4, 5)
                   .reshape(b * Windows, TokensPerWindow, d);
    }

    /// <summary>[B * P, N, D] windows -> [B, rows, cols, D] grid.</summary>
    public Tensor ToGrid(Tensor windows)
    {
        long d = windows.shape[2], b = windows.shape[0] / Windows;
        return windows.view(b, WindowRows, WindowCols, WindowSize, WindowSize, d).permute(0, 1, 3, 2, 4, 5)
                      .reshape(b, Rows, Cols, d);
    }

    /// <summary>Forward roll: rolled[r, c] = grid[(r + s) mod rows, (c + s) mod cols], in window layout.</summary>
    public Tensor RollForward(Tensor windows) => ToWindows(ToGrid(windows).roll([-Shift, -Shift], [1, 2]));

    /// <summary>Inverse roll: back from the rolled window layout to the normal one.</summary>
    public Tensor RollBack(Tensor windows) => ToWindows(ToGrid(windows).roll([Shift, Shift], [1, 2]));

    /// <summary>The shifted-window bias M [P, N, N]: 0 for token pairs of the same region of the rolled grid, else -10000.</summary>
    public Tensor ShiftMask()
    {
        static int Region(int i, int n, int ws, int s) => i < n - ws ? 0 : i < n - s ? 1 : 2;
        var labels = new float[Rows * Cols];
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Cols; c++)
                labels[r * Cols + c] = 3 * Region(r, Rows, WindowSize, Shift) + Region(c, Cols, WindowSize, Shift);
        var windowed = ToWindows(tensor(labels).view(1, Rows, Cols, 1)).squeeze(-1); // [P, N]
        var same = windowed.unsqueeze(2).eq(windowed.unsqueeze(1));
        return where(same, 0f, -10000f);
    }
}
