using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Kernels;

public sealed class RmsNormTests : GpuTest
{
    static float RoundTo(float v, DType dt) => dt switch
    {
        DType.F16 => (float)(Half)v,
        DType.BF16 => BFloat16.Round(v),
        _ => v,
    };

    [TestCase(5, 37, DType.F32)]
    [TestCase(3, 4096, DType.F16)]
    [TestCase(9, 70, DType.BF16)]
    [TestCase(4, 33, DType.F16)]
    public void WidenedWeight(int rows, int d, DType dtype)
    {
        var rng = new Random(rows + d);
        var x = Check.Randn(rng, rows * d, 3.0);
        var w = HostTensor.FromFloat32(Check.Randn(rng, d), d).To(dtype);
        var wf = w.ToFloat32();
        using var s = new Scratch(Gpu);
        var X = s.F32(x, rows, d);
        var W = s.Upload(w);
        var Y = s.Empty(DType.F32, rows, d);
        Run(seq => RmsNorm.Record(seq, X, W, Y, 1e-6f));
        var want = new double[x.Length];
        for (int m = 0; m < rows; m++)
        {
            double ms = 0;
            for (int i = 0; i < d; i++) ms += (double)x[m * d + i] * x[m * d + i];
            double r = 1 / Math.Sqrt(ms / d + 1e-6);
            for (int i = 0; i < d; i++) want[m * d + i] = wf[i] * (x[m * d + i] * r);
        }
        Check.Close(Y.ToArray(), want, 1e-5, $"rms_norm {dtype}");
    }

    // transformers for an f16/bf16 model: h = x·rsqrt(...) cast to the weight dtype, then w·h in that dtype.
    [TestCase(6, 45, DType.F16)]
    [TestCase(4, 128, DType.BF16)]
    public void HalfPrecisionModel(int rows, int d, DType dtype)
    {
        var rng = new Random(rows * d);
        var x = Check.Randn(rng, rows * d, 2.0);
        var w = HostTensor.FromFloat32(Check.Randn(rng, d), d).To(dtype);
        var wf = w.ToFloat32();
        using var s = new Scratch(Gpu);
        var X = s.F32(x, rows, d);
        var W = s.Upload(w);
        var Y = s.Empty(DType.F32, rows, d);
        Run(seq => RmsNorm.Record(seq, X, W, Y, 1e-6f, halfPrecisionModel: true));
        var want = new double[x.Length];
        for (int m = 0; m < rows; m++)
        {
            double ms = 0;
            for (int i = 0; i < d; i++) ms += (double)x[m * d + i] * x[m * d + i];
            float r = (float)(1 / Math.Sqrt((float)(ms / d) + 1e-6));
            for (int i = 0; i < d; i++) want[m * d + i] = RoundTo(wf[i] * RoundTo(x[m * d + i] * r, dtype), dtype);
        }
        var got = Y.ToArray();
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
