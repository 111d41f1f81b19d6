using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class GroupNormTests : GpuTest
{
    [TestCase(1, 1, 8, 2, false, 0)]
    [TestCase(2, 37, 12, 3, true, 0)]
    [TestCase(1, 301, 32, 4, true, 0)]
    [TestCase(2, 29, 8, 4, true, 0)]       // 2 channels per group: texels of 4 channels straddle groups
    [TestCase(1, 13, 12, 2, false, 0)]     // 6 channels per group
    [TestCase(2, 37, 12, 3, true, 1024)]   // y in chunks of 16 rows, one crossing from sample 0 to sample 1
    [TestCase(3, 45, 8, 4, false, 1024)]
    public void MatchesCpu(int b, int p, int c, int groups, bool silu, int maxBindingBytes)
    {
        var rng = new Random(b * 100 + p + c);
        var x = Check.Randn(rng, b * p * c, 3.0);
        for (int i = 0; i < x.Length; i++) x[i] += 2;   // a mean far from 0 tests the two-pass variance
        var gamma = Check.Randn(rng, c, 0.5);
        var beta = Check.Randn(rng, c, 0.5);
        var want = new double[x.Length];
        int per = c / groups;
        for (int n = 0; n < b; n++) for (int g = 0; g < groups; g++)
        {
            double sum = 0, sq = 0; int count = p * per;
            for (int q = 0; q < p; q++) for (int k = 0; k < per; k++) sum += x[(n * p + q) * c + g * per + k];
            double mean = sum / count;
            for (int q = 0; q < p; q++) for (int k = 0; k < per; k++) { double d = x[(n * p + q) * c + g * per + k] - mean; sq += d * d; }
            double rstd = 1 / Math.Sqrt(sq / count + 1e-6);
            for (int q = 0; q < p; q++) for (int k = 0; k < per; k++)
            {
                int i = (n * p + q) * c + g * per + k, ch = g * per + k;
                double v = (x[i] - mean) * rstd * gamma[ch] + beta[ch];
                want[i] = silu ? v / (1 + Math.Exp(-v)) : v;
            }
        }
        using var s = new Scratch(Gpu);
        var X = s.F32(x, b, p, c);
        var Y = s.Empty(DType.F32, b, p, c);
        var G = s.F32(gamma, c);
        var Bt = s.F32(beta, c);
        Run(seq =>
        {
            if (maxBindingBytes == 0) GroupNorm.Record(seq, X, G, Bt, Y, groups, 1e-6f, silu);
            else GroupNorm.Record(seq, X, G, Bt, Y, groups, 1e-6f, silu, SmallBindings.Of(maxBindingBytes));
        });
        Check.Close(Y.ToArray(), want, 1e-5, "group_norm");
    }

    [Test]
    public void ChannelsMustSplitIntoGroups()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 1, 4, 10);
        var G = s.Empty(DType.F32, 10);
        using var seq = new Sequence(Gpu);
        var e = Assert.Throws<ArgumentException>(() => GroupNorm.Record(seq, X, G, G, X, 4, 1e-6f, false));
        Assert.That(e!.Message, Does.Contain("do not split into 4 groups"));
    }
}
