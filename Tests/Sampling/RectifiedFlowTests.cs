using NUnit.Framework;
using T2X.Vulkan.Sampling;

namespace T2X.Tests.Sampling;

public class RectifiedFlowTests
{
    // docs/ptdit.md §10, 1024×1024: raw t, t', bf16 t', dt (i = 0..29).
    static readonly double[,] Table =
    {
        {1000.0000,1000.0000,1000,0.016949},{966.6667,983.0509,984,0.017534},{933.3333,965.5172,964,0.018149},{900.0000,947.3684,948,0.018797},
        {866.6667,928.5715,928,0.019481},{833.3333,909.0909,908,0.020202},{800.0000,888.8890,888,0.020964},{766.6667,867.9246,868,0.021771},
        {733.3333,846.1538,848,0.022624},{700.0000,823.5294,824,0.023529},{666.6667,800.0000,800,0.024490},{633.3333,775.5102,776,0.025510},
        {600.0000,750.0000,752,0.026596},{566.6667,723.4043,724,0.027752},{533.3333,695.6521,696,0.028985},{500.0000,666.6667,668,0.030303},
        {466.6667,636.3636,636,0.031713},{433.3333,604.6511,604,0.033223},{400.0000,571.4286,572,0.034843},{366.6667,536.5853,536,0.036585},
        {333.3333,500.0000,500,0.038462},{300.0000,461.5385,462,0.040486},{266.6667,421.0526,422,0.042674},{233.3333,378.3784,378,0.045045},
        {200.0000,333.3333,334,0.047619},{166.6667,285.7143,286,0.050420},{133.3333,235.2941,235,0.053476},{100.0000,181.8182,182,0.056818},
        {66.6667,125.0000,125,0.060484},{33.3333,64.5161,64.5,0.064516},
    };

    [Test]
    public void Schedule1024MatchesTheSpecTable()
    {
        var s = new RectifiedFlowSchedule(new SamplerOptions(), 1024, 1024);
        var bf = new RectifiedFlowSchedule(new SamplerOptions { MimicBf16 = true }, 1024, 1024);
        Assert.That(s.Ratio, Is.EqualTo(2f));
        Assert.That(s.Steps, Is.EqualTo(30));
        for (int i = 0; i < 30; i++)
        {
            Assert.That(s.RawTimes[i], Is.EqualTo(Table[i, 0]).Within(5e-5), $"raw t {i}");
            Assert.That(s.Times[i], Is.EqualTo(Table[i, 1]).Within(5e-5), $"t' {i}");
            Assert.That(s.ModelTimes[i], Is.EqualTo(s.Times[i]), $"fp32 model time {i}");
            Assert.That(bf.ModelTimes[i], Is.EqualTo(Table[i, 2]), $"bf16 model time {i}");
            Assert.That(s.Dt[i], Is.EqualTo(Table[i, 3]).Within(5e-7), $"dt {i}");
            Assert.That(bf.Dt[i], Is.EqualTo(s.Dt[i]), "dt uses the float32 times");
        }
        Assert.That(s.Dt.Sum(x => (double)x), Is.EqualTo(1).Within(1e-6));
    }

    [Test]
    public void RatioRulesIncludingTheBf16AndVideoQuirks()
    {
        Assert.That(RectifiedFlowSchedule.ShiftRatio(512, 512, 1, false), Is.EqualTo(1f));
        Assert.That(RectifiedFlowSchedule.ShiftRatio(768, 1024, 1, false), Is.EqualTo(MathF.Sqrt(3f)));
        Assert.That(RectifiedFlowSchedule.ShiftRatio(768, 1024, 1, true), Is.EqualTo(1.734375f));     // docs/ptdit.md, quirk Q8
        Assert.That(RectifiedFlowSchedule.ShiftRatio(512, 512, 17, false), Is.EqualTo(MathF.Sqrt(5f)));
        Assert.That(RectifiedFlowSchedule.ShiftRatio(512, 512, 5, false), Is.EqualTo(0f));              // docs/ptdit.md, quirk Q9
        var e = Assert.Throws<ArgumentException>(() => new RectifiedFlowSchedule(new SamplerOptions(), 512, 512, 5));
        Assert.That(e!.Message, Does.Contain("Q9"));
        var plain = new RectifiedFlowSchedule(new SamplerOptions { UseTimestepTransform = false, Steps = 4 }, 1024, 1024);
        Assert.That(plain.Times, Is.EqualTo(new[] { 1000f, 750f, 500f, 250f }));
        Assert.That(plain.Dt, Is.EqualTo(new[] { 0.25f, 0.25f, 0.25f, 0.25f }));
    }

    [Test]
    public void EulerCfgStepMatchesTheFormula()
    {
        var rng = new Random(1);
        int B = 2, C = 3, O = 5, plane = 7;
        var z = Check.Randn(rng, B * C * plane);
        var pred = Check.Randn(rng, 2 * B * O * plane);
        var z0 = (float[])z.Clone();
        RectifiedFlow.EulerCfgStep(z, pred, B, C, O, 4f, 0.1f);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < plane; i++)
                {
                    double cond = pred[(b * O + c) * plane + i], uncond = pred[((B + b) * O + c) * plane + i];
                    Assert.That(z[(b * C + c) * plane + i], Is.EqualTo(z0[(b * C + c) * plane + i] + 0.1 * (uncond + 4 * (cond - uncond))).Within(1e-5));
                }
    }

    [Test]
    public void SeededNoiseIsFixedAndStandardNormal()
    {
        var a = GaussianNoise.Generate(42, 200_001);
        Assert.That(GaussianNoise.Generate(42, 200_001), Is.EqualTo(a));
        Assert.That(GaussianNoise.Generate(42, 10), Is.EqualTo(a[..10]), "a prefix does not depend on the count");
        Assert.That(GaussianNoise.Generate(43, 10), Is.Not.EqualTo(a[..10]));
        double mean = a.Average(x => (double)x), var = a.Average(x => (x - mean) * (x - mean));
        Assert.That(mean, Is.EqualTo(0).Within(0.01));
        Assert.That(var, Is.EqualTo(1).Within(0.01));
        double kurt = a.Average(x => Math.Pow(x - mean, 4)) / (var * var);
        Assert.That(kurt, Is.EqualTo(3).Within(0.05));
        // The series logarithm agrees with the platform's to the last bits.
        foreach (var x in new[] { 1e-300, 1e-10, 0.1, 0.5, 0.70710678, 0.9999999, 1.0 })
            Assert.That(GaussianNoise.Log(x), Is.EqualTo(Math.Log(x)).Within(Math.Abs(Math.Log(x)) * 4e-16 + 1e-300));
        // Pinned values: any change to the generator changes every seeded image.
        Assert.That(a[..4], Is.EqualTo(PinnedSeed42).Within(0), string.Join(", ", a[..4].Select(v => v.ToString("R"))));
    }

    static readonly float[] PinnedSeed42 = [0.49295065f, -0.69400567f, -1.2810774f, -0.9015572f];
}
