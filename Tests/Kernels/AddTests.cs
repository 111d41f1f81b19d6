using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class AddTests : GpuTest
{
    [TestCase(1, 1f)]
    [TestCase(1000, -0.5f)]
    [TestCase(70_001, 2f)]
    public void MatchesCpu(int n, float alpha)
    {
        var rng = new Random(n);
        var a = Check.Randn(rng, n);
        var b = Check.Randn(rng, n);
        using var ta = Tensor.FromArray(Gpu, a, n).Buffer;
        var A = new Tensor(ta, 0, DType.F32, n);
        var B = Tensor.FromArray(Gpu, b, n);
        var Y = Tensor.Create(Gpu, DType.F32, n);
        Run(s => Add.Record(s, A, B, Y, alpha));
        var want = new double[n];
        for (int i = 0; i < n; i++) want[i] = a[i] + (double)alpha * b[i];
        Check.Close(Y.ToArray(), want, 1e-6, "add");
        B.Buffer.Dispose();
        Y.Buffer.Dispose();
    }
}
