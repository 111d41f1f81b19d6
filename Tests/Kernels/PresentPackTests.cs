using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class PresentPackTests : GpuTest
{
    [TestCase(1, 1)]
    [TestCase(7, 13)]
    [TestCase(300, 257)]
    public void InterleavesThePlanes(int height, int width)
    {
        int pixels = height * width;
        var planes = Check.Randn(new Random(pixels), 3 * pixels);
        var X = Tensor.FromArray(Gpu, planes, 3, height, width);
        var Y = Tensor.Create(Gpu, DType.F32, height, width, 4);
        Run(seq => PresentPack.Record(seq, X, Y));
        var want = new float[4 * pixels];
        for (int p = 0; p < pixels; p++)
        {
            for (int c = 0; c < 3; c++) want[4 * p + c] = planes[c * pixels + p];
            want[4 * p + 3] = 1;
        }
        Assert.That(Y.ToArray(), Is.EqualTo(want));
        X.Buffer.Dispose();
        Y.Buffer.Dispose();
    }

    [Test]
    public void NamesTheWrongShape()
    {
        var X = Tensor.Create(Gpu, DType.F32, 3, 2, 5);
        var Y = Tensor.Create(Gpu, DType.F32, 5, 2, 4);
        var e = Assert.Throws<ArgumentException>(() => Run(seq => PresentPack.Record(seq, X, Y)))!;
        Assert.That(e.Message, Does.Contain("rgba").And.Contain("[2,5,4]"));
        X.Buffer.Dispose();
        Y.Buffer.Dispose();
    }
}
