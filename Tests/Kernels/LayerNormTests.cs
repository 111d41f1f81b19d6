using NUnit.Framework;
using T2X.Benchmarks;
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

    [TestCase(1, 4)]
    [TestCase(7, 36)]
    [TestCase(3, 1152)]
    [TestCase(2, 4092)]
    [TestCase(70_001, 4)] // more rows than one grid dimension holds
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
        Check.Close(Y.ToArray(), want, 1e-5, "layer_norm");
    }

    // (batch, windows, tokens per window, d, rowDiv): rowDiv = tokens per window is the block mapping
    // (row R = b·P + p uses sample R mod B), rowDiv = windows·tokens the final layer's per-sample mapping.
    [TestCase(2, 3, 5, 44, 5)]
    [TestCase(3, 2, 7, 132, 14)]
    [TestCase(1, 4, 3, 8, 3)]
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

    // Bindings limited to 50 rows: 48-row chunks (80-byte rows keep 256-byte alignment every 16 rows),
    // whose boundaries cut through the 7-row modulation groups.
    [Test]
    public void ChunkedRows()
    {
        const int rows = 300, d = 20, groups = 3, rowDiv = 7;
        var rng = new Random(300);
        var x = Check.Randn(rng, rows * d);
        var shift = Check.Randn(rng, groups * d);
        var scale = Check.Randn(rng, groups * d);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, rows, d);
        var Y = s.Empty(DType.F32, rows, d);
        var Sh = s.F32(shift, groups, d);
        var Sc = s.F32(scale, groups, d);
        using var seq = new Sequence(Gpu);
        LayerNorm.Record(seq, X, Y, 1e-6f, Sh, Sc, rowDiv, SmallBindings.Of(50 * d * 4));
        Assert.That(seq.Dispatches, Is.EqualTo(7));
        seq.Run();
        Check.Close(Y.ToArray(), Reference(x, rows, d, 1e-6, shift, scale, rowDiv, groups), 1e-5, "layer_norm chunked");
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
        var odd = s.Empty(DType.F32, 3, 6);
        ex = Assert.Throws<ArgumentException>(() => Run(seq => LayerNorm.Record(seq, odd, odd, 1e-6f)));
        Assert.That(ex!.Message, Does.Contain("multiple of 4"));
        var shifted = new Tensor(X.Buffer, 4, DType.F32, 2, 4); // a texel view cannot start at byte 4
        ex = Assert.Throws<ArgumentException>(() => Run(seq => LayerNorm.Record(seq, shifted, shifted, 1e-6f)));
        Assert.That(ex!.Message, Does.Contain("alignment"));
    }

    // Modulation vectors are slices of one [R, G, D] modulation output, as the model passes them.
    [Test]
    public void ModulationFromSlicesOfOneTensor()
    {
        const int batch = 2, windows = 3, tokens = 4, d = 36;
        var rng = new Random(77);
        var x = Check.Randn(rng, batch * windows * tokens * d);
        var mod = Check.Randn(rng, 6 * batch * d);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, batch * windows, tokens, d);
        var M = s.F32(mod, 6, batch, d);
        var Y = s.Empty(DType.F32, batch * windows, tokens, d);
        Run(seq => LayerNorm.Record(seq, X, Y, 1e-6f, M.Slice(3, 1).Reshape(batch, d), M.Slice(4, 1).Reshape(batch, d), tokens));
        var shift = mod.AsSpan(3 * batch * d, batch * d).ToArray();
        var scale = mod.AsSpan(4 * batch * d, batch * d).ToArray();
        Check.Close(Y.ToArray(), Reference(x, batch * windows * tokens, d, 1e-6, shift, scale, tokens, batch), 1e-5, "layer_norm sliced modulation");
    }
}
