using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

public sealed class RowScaleTests : GpuTest
{
    [TestCase(30, 20, 5, 2)]   // block mapping: window rows of 5 tokens, sample = window mod 2
    [TestCase(30, 20, 15, 2)]  // per-sample mapping
    [TestCase(7, 1156, 1, 3)]
    [TestCase(70_001, 4, 3, 2)] // rows spread over two grid dimensions
    public void MatchesCpu(int rows, int d, int rowDiv, int groups)
    {
        var rng = new Random(rows * d + rowDiv);
        var x = Check.Randn(rng, rows * d);
        var g = Check.Randn(rng, groups * d);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, rows, d);
        var G = s.F32(g, groups, d);
        var Y = s.Empty(DType.F32, rows, d);
        Run(seq => RowScale.Record(seq, X, G, Y, rowDiv));
        var want = new double[x.Length];
        for (int m = 0; m < rows; m++)
            for (int c = 0; c < d; c++)
                want[m * d + c] = (double)x[m * d + c] * g[(m / rowDiv % groups) * d + c];
        Check.Close(Y.ToArray(), want, 1e-7, "row_scale");
    }

    [Test]
    public void ChunkedRows()
    {
        const int rows = 300, d = 20, groups = 3, rowDiv = 7;
        var rng = new Random(301);
        var x = Check.Randn(rng, rows * d);
        var g = Check.Randn(rng, groups * d);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, rows, d);
        var G = s.F32(g, groups, d);
        var Y = s.Empty(DType.F32, rows, d);
        using var seq = new Sequence(Gpu);
        RowScale.Record(seq, X, G, Y, rowDiv, SmallBindings.Of(50 * d * 4)); // 48-row chunks cutting through the 7-row groups
        Assert.That(seq.Dispatches, Is.EqualTo(7));
        seq.Run();
        var want = new double[x.Length];
        for (int m = 0; m < rows; m++)
            for (int c = 0; c < d; c++)
                want[m * d + c] = (double)x[m * d + c] * g[(m / rowDiv % groups) * d + c];
        Check.Close(Y.ToArray(), want, 1e-7, "row_scale chunked");
    }

    [Test]
    public void RejectsGateWidth()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 4, 8);
        var G = s.Empty(DType.F32, 2, 12);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => RowScale.Record(seq, X, G, X, 2)));
        Assert.That(ex!.Message, Does.Contain("gate"));
    }
}
