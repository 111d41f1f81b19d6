using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// window_mean (Engine/Kernels/WindowMean.cs): the proxy tokens, means of the tokens each proxy owns in its window.
public static partial class KernelTable
{
    /// <summary>maxBindingBytes = 0: the device's binding limit; a small one forces the chunked path.</summary>
    public static KernelCase WindowMean(int windows, WindowSize window, WindowSize proxy, int d, int maxBindingBytes = 0) =>
        new($"window_mean {windows} windows {window} proxy {proxy} D={d}{SmallBindings.Describe(maxBindingBytes)}",
            windows * 7 + d, 1e-6, (s, rng) =>
    {
        int sh = window.Rows / proxy.Rows, sw = window.Cols / proxy.Cols;
        var x = KernelInputs.Randn(rng, (long)windows * window.Tokens * d);
        Tensor X = s.F32(x, windows, window.Tokens, d), Y = s.Empty(DType.F32, windows * sh * sw, d);
        return new(seq => Vulkan.Kernels.WindowMean.Record(seq, X, Y, window, proxy, SmallBindings.OrDevice(seq.Gpu, maxBindingBytes)), Y,
            () => WindowMeanReference(x, windows, window, sh, sw, d));
    });

    // Reference by membership: proxy (j, k) of a window owns the tokens whose in-window row ≡ j (mod sh)
    // and column ≡ k (mod sw), for every frame (docs/ptdit.md, quirk Q6; one proxy per window when sh = sw = 1).
    static double[] WindowMeanReference(float[] x, int windows, WindowSize win, int sh, int sw, int d)
    {
        int kp = sh * sw;
        var sum = new double[windows * kp * d];
        var count = new int[windows * kp];
        for (int wi = 0; wi < windows; wi++)
            for (int f = 0; f < win.Frames; f++)
                for (int y = 0; y < win.Rows; y++)
                    for (int z = 0; z < win.Cols; z++)
                    {
                        int n = (f * win.Rows + y) * win.Cols + z;
                        int proxy = wi * kp + (y % sh) * sw + z % sw;
                        count[proxy]++;
                        for (int c = 0; c < d; c++) sum[proxy * d + c] += x[((long)wi * win.Tokens + n) * d + c];
                    }
        for (int i = 0; i < sum.Length; i++) sum[i] /= count[i / d];
        return sum;
    }
}
