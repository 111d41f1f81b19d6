using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>The half-precision model's roundings and the shape errors; the widened-weight shapes are rows of the
/// kernel table (KernelTableTests).</summary>
public sealed class RmsNormTests : GpuTest
{
    // transformers for an f16/bf16 model: h = x·rsqrt(...) cast to the weight dtype, then w·h in that dtype.
    [TestCase(6, 45, DType.F16)]
    [TestCase(4, 128, DType.BF16)]
    public void HalfPrecisionModel(int rows, int d, DType dtype)
    {
        using var s = new Scratch(Gpu);
        var run = KernelTable.RmsNorm(rows, d, dtype, halfPrecisionModel: true).Make(s);
        Run(run.Record);
        var got = run.Output.ToArray();
        var want = run.Want();
        Check.Close(got, want, 1e-3, $"rms_norm half model {dtype}");
        // Both roundings must happen: nearly every value is then exactly the reference's (a rare tie
        // may round the other way); without them almost none would be.
        int exact = 0;
        for (int i = 0; i < got.Length; i++) if (got[i] == (float)want[i]) exact++;
        Assert.That(exact, Is.GreaterThan(got.Length * 0.98), "values representable in the weight dtype");
    }

    [Test]
    public void RejectsWrongWeightLength()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 2, 8);
        var W = s.Empty(DType.F16, 9);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => RmsNorm.Record(seq, X, W, X, 1e-6f)));
        Assert.That(ex!.Message, Does.Contain("weight").And.Contain("[8]"));
    }
}
