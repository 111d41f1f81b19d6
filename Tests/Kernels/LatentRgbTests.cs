using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class LatentRgbTests : GpuTest
{
    [TestCase(4, 1, 1)]
    [TestCase(4, 13, 17)]
    [TestCase(16, 9, 70)]
    [TestCase(3, 64, 64)]
    public void MatchesCpu(int channels, int height, int width)
    {
        var rng = new Random(channels * 1000 + height * 10 + width);
        var latent = Check.Randn(rng, channels * height * width);
        var projection = Check.Randn(rng, 3 * (channels + 1), 0.3);
        var L = Tensor.FromArray(Gpu, latent, channels, height, width);
        var M = Tensor.FromArray(Gpu, projection, 3, channels + 1);
        var Y = Tensor.Create(Gpu, DType.F32, 3, height, width);
        Run(seq => LatentRgb.Record(seq, L, M, Y));

        int pixels = height * width;
        var want = new double[3 * pixels];
        for (int c = 0; c < 3; c++)
        for (int p = 0; p < pixels; p++)
        {
            double v = projection[c * (channels + 1) + channels];
            for (int k = 0; k < channels; k++) v += (double)projection[c * (channels + 1) + k] * latent[k * pixels + p];
            want[c * pixels + p] = v;
        }
        Check.Close(Y.ToArray(), want, 1e-5, "latent_rgb");
        foreach (var t in new[] { L, M, Y }) t.Buffer.Dispose();
    }

    [Test]
    public void NamesTheWrongShape()
    {
        var L = Tensor.Create(Gpu, DType.F32, 4, 2, 3);
        var M = Tensor.Create(Gpu, DType.F32, 3, 4);
        var Y = Tensor.Create(Gpu, DType.F32, 3, 2, 3);
        var e = Assert.Throws<ArgumentException>(() => Run(seq => LatentRgb.Record(seq, L, M, Y)))!;
        Assert.That(e.Message, Does.Contain("projection").And.Contain("[3,5]"));
        foreach (var t in new[] { L, M, Y }) t.Buffer.Dispose();
    }
}
