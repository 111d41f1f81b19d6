using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class LayerNormTests : GpuTest
{
    static double[] Reference(float[] x, long rows, int d, double eps, float[]? shift, float[]? scale, long rowDiv, int groups)
    {
        var y = new double[x.Length];
        for (long m = 0; m < rows; m++)
        {
            double mean = 0, v = 0;
            for (int i = 0; i < d; i++) mean += x[m * d + i];
            mean /= d;
            for (int i = 0; i < d; i++) v += (x[m * d + i] - mean) * (x[m * d + i] - mean);
            double rstd = 1 / Math.Sqrt(v / d + eps);
            long g = (m / rowDiv) % groups;
            for (int i = 0; i < d; i++)
            {
                double h = (x[m * d + i] - mean) * rstd;
                if (shift != null) h = h * (1 + (double)scale![g * d + i]) + shift[g * d + i];
                y[m * d + i] = h;
            }
        }
        return y;
    }

    [TestCase(1, 1)]
    [TestCase(7, 37)]
    [TestCase(3, 1152)]
    [TestCase(2, 4099)]
    [TestCase(70_001, 3)] // more rows than one grid dimension holds
    public void Plain(int rows, int d)
    {
        var rng = new Random(rows * 31 + d);
        var x = Check.Randn(rng, (long)rows * d);
        for (int i = 0; i < x.Length; i++) x[i] += 50f; // a large mean: a one-pass E[x²]−E[x]² would lose digits
        using var s = new Scratch(Gpu);
        var X = s.F32(x, rows, d);
        var Y = s.Empty(DType.F32, rows, d);
        Run(seq => LayerNorm.Record(seq, X, Y, 1e-6f));
        var want = Reference(x, rows, d, 1e-6, null, null, 1, 1);
        if (d == 1) Assert.That(Y.ToArray(), Is.All.EqualTo(0f)); // x − mean is exactly 0
        else Check.Close(Y.ToArray(), want, 1e-5, "layer_norm");
    }

    // (batch, windows, tokens per window, d, rowDiv): rowDiv = tokens per window is the block mapping
    // (row R = b·P + p uses sample R mod B), rowDiv = windows·tokens the final layer's per-sample mapping.
    [TestCase(2, 3, 5, 45, 5)]
    [TestCase(3, 2, 7, 130, 14)]
    [TestCase(1, 4, 3, 9, 3)]
    public void Modulated(int batch, int windows, int tokens, int d, int rowDiv)
    {
        var rng = new Random(batch * 1000 + d);
        int rows = batch * windows * tokens;
        var x = Check.Randn(rng, rows * d, 2.0);
        var shift = Check.Randn(rng, batch * d);
        var scale = Check.Randn(rng, batch * d, 0.5);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, batch * windows, tokens, d);
        var Y = s.Empty(DType.F32, batch * windows, tokens, d);
        var Sh = s.F32(shift, batch, d);
        var Sc = s.F32(scale, batch, d);
        Run(seq => LayerNorm.Record(seq, X, Y, 1e-6f, Sh, Sc, rowDiv));
        Check.Close(Y.ToArray(), Reference(x, rows, d, 1e-6, shift, scale, rowDiv, batch), 1e-5, "layer_norm modulated");
    }

    [Test]
    public void InPlace()
    {
        var rng = new Random(5);
        var x = Check.Randn(rng, 11 * 20);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, 11, 20);
        Run(seq => LayerNorm.Record(seq, X, X, 1e-5f));
        Check.Close(X.ToArray(), Reference(x, 11, 20, 1e-5, null, null, 1, 1), 1e-5, "layer_norm in place");
    }

    [Test]
    public void RejectsBadShapes()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 4, 8);
        var bad = s.Empty(DType.F32, 2, 7);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => LayerNorm.Record(seq, X, X, 1e-6f, bad, bad, 2)));
        Assert.That(ex!.Message, Does.Contain("shift").And.Contain("[2,8]"));
        ex = Assert.Throws<ArgumentException>(() => Run(seq => LayerNorm.Record(seq, X, bad, 1e-6f)));
        Assert.That(ex!.Message, Does.Contain("y"));
    }
}
