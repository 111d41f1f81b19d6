using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class SoftmaxTests : GpuTest
{
    [TestCase(1, 1, 0)]
    [TestCase(3, 300, 0)]
    [TestCase(17, 1029, 0)]
    [TestCase(19, 64, 2048)]   // rows in chunks of 8 (the VAE's 1024² attention scores exceed one binding)
    public void MatchesCpu(int rows, int n, int maxBindingBytes)
    {
        var x = Check.Randn(new Random(rows * n), rows * n, 8.0);
        const float scale = 0.3f;
        var want = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double m = double.NegativeInfinity, s = 0;
            for (int i = 0; i < n; i++) m = Math.Max(m, (double)x[r * n + i] * scale);
            for (int i = 0; i < n; i++) s += Math.Exp((double)x[r * n + i] * scale - m);
            for (int i = 0; i < n; i++) want[r * n + i] = Math.Exp((double)x[r * n + i] * scale - m) / s;
        }
        using var sc = new Scratch(Gpu);
        var X = sc.F32(x, rows, n);
        Run(seq =>
        {
            if (maxBindingBytes == 0) Softmax.Record(seq, X, scale);
            else Softmax.Record(seq, X, scale, SmallBindings.Of(maxBindingBytes));
        });
        Check.Close(X.ToArray(), want, 1e-5, "softmax");
    }
}
