using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>The patch embedding and shape errors; the shapes it copies are rows of the kernel table (KernelTableTests).</summary>
public sealed class PatchifyTests : GpuTest
{
    // docs/ptdit.md §4.1: E[b,f,r,c,d] = bias[d] + Σ W[d,ci,ky,kx]·latents[b,ci,f,2r+ky,2c+kx]; the conv weight
    // [D, C, p, p] viewed as [D, C·p·p] must multiply the patch rows directly.
    [Test]
    public void PatchEmbeddingIsAGemmWithTheConvWeight()
    {
        const int b = 2, c = 4, f = 1, h = 32, w = 16, p = 2, d = 24;
        var win = new WindowSize(1, 8, 8);
        var rng = new Random(41);
        var lat = Check.Randn(rng, b * c * f * h * w);
        var weight = Check.Randn(rng, d * c * p * p);
        var bias = Check.Randn(rng, d);
        int th = h / p, tw = w / p, nh = th / 8, nw = tw / 8;
        using var s = new Scratch(Gpu);
        var L = s.F32(lat, b, c, f, h, w);
        var W = s.F32(weight, d, c * p * p);
        var B = s.F32(bias, d);
        var patches = s.Empty(DType.F32, b * th * tw, c * p * p);
        var E = s.Empty(DType.F32, b * th * tw, d);
        Run(seq =>
        {
            Patchify.Record(seq, L, patches, p, win);
            Gemm.Record(seq, patches, W, B, E);
        });
        var want = new double[E.Elements];
        for (int bi = 0; bi < b; bi++)
            for (int r = 0; r < th; r++)
                for (int cc = 0; cc < tw; cc++)
                {
                    long row = KernelTable.TokenRow(bi, 0, r, cc, 1, nh, nw, win);
                    for (int o = 0; o < d; o++)
                    {
                        double acc = bias[o];
                        for (int ci = 0; ci < c; ci++)
                            for (int ky = 0; ky < p; ky++)
                                for (int kx = 0; kx < p; kx++)
                                    acc += (double)weight[((o * c + ci) * p + ky) * p + kx] * lat[((bi * c + ci) * h + p * r + ky) * w + p * cc + kx];
                        want[row * d + o] = acc;
                    }
                }
        Check.Close(E.ToArray(), want, 1e-5, "patch embedding");
    }

    [Test]
    public void RejectsGridNotMultipleOfWindow()
    {
        using var s = new Scratch(Gpu);
        var L = s.Empty(DType.F32, 1, 4, 1, 24, 32);
        var Y = s.Empty(DType.F32, 192, 16);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => Patchify.Record(seq, L, Y, 2, new WindowSize(1, 8, 8))));
        Assert.That(ex!.Message, Does.Contain("multiples of 1, 16, 16"));
    }
}
