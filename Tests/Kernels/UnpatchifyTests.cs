using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class UnpatchifyTests : GpuTest
{
    [TestCase(2, 8, 1, 32, 48, 2, 1, 8, 8)]
    [TestCase(1, 3, 4, 12, 8, 2, 2, 3, 2)]
    [TestCase(2, 5, 3, 9, 6, 3, 1, 1, 2)]
    public void MatchesCpu(int b, int c, int f, int h, int w, int p, int cf, int ch, int cw)
    {
        var win = new WindowSize(cf, ch, cw);
        int th = h / p, tw = w / p, nf = f / cf, nh = th / ch, nw = tw / cw, k = p * p * c;
        long tokens = (long)f * th * tw;
        var rng = new Random(b + c + f + h + w);
        var o = Check.Randn(rng, b * tokens * k);
        using var s = new Scratch(Gpu);
        var O = s.F32(o, b, tokens, k);
        var Y = s.Empty(DType.F32, b, c, f, h, w);
        Run(seq => Unpatchify.Record(seq, O, Y, p, win));
        var want = new double[Y.Elements];
        for (int bi = 0; bi < b; bi++)
            for (int fi = 0; fi < f; fi++)
                for (int r = 0; r < th; r++)
                    for (int cc = 0; cc < tw; cc++)
                    {
                        long row = PatchifyTests.TokenRow(bi, fi, r, cc, nf, nh, nw, win); // = b·P·N + s
                        for (int py = 0; py < p; py++)
                            for (int px = 0; px < p; px++)
                                for (int co = 0; co < c; co++)
                                    want[((((long)bi * c + co) * f + fi) * h + p * r + py) * w + p * cc + px] =
                                        o[row * k + (py * p + px) * c + co];
                    }
        Assert.That(Y.ToArray(), Is.EqualTo(Array.ConvertAll(want, v => (float)v)), "unpatchify is an exact copy");
    }

    [Test]
    public void RejectsWrongTokenShape()
    {
        using var s = new Scratch(Gpu);
        var O = s.Empty(DType.F32, 1, 64, 31);
        var Y = s.Empty(DType.F32, 1, 8, 1, 16, 16);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => Unpatchify.Record(seq, O, Y, 2, new WindowSize(1, 8, 8))));
        Assert.That(ex!.Message, Does.Contain("tokens must have shape [1,64,32]"));
    }
}
