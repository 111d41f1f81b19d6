using NUnit.Framework;
using T2X.Benchmarks;

namespace T2X.Tests;

/// <summary>Random data and comparisons shared by kernel and model tests.</summary>
public static class Check
{
    /// <summary>Fresh random normal values (seeded from the test's random source so failures are reproducible).</summary>
    public static float[] Randn(Random rng, long n, double scale = 1.0) => KernelInputs.Randn(rng, n, scale);

    /// <summary>‖got − want‖ / ‖want‖ over all elements.</summary>
    public static double RelativeError(ReadOnlySpan<float> got, ReadOnlySpan<double> want)
    {
        Assert.That(got.Length, Is.EqualTo(want.Length), "length");
        return KernelInputs.RelativeError(got, want);
    }

    public static double MaxAbsError(ReadOnlySpan<float> got, ReadOnlySpan<double> want)
    {
        Assert.That(got.Length, Is.EqualTo(want.Length), "length");
        double m = 0;
        for (int i = 0; i < got.Length; i++)
        {
            if (!double.IsFinite(got[i])) return double.PositiveInfinity;
            m = Math.Max(m, Math.Abs(got[i] - want[i]));
        }
        return m;
    }

    /// <summary>Asserts the relative norm error is below tol, naming what was compared.</summary>
    public static void Close(ReadOnlySpan<float> got, ReadOnlySpan<double> want, double tol, string what)
    {
        double e = RelativeError(got, want);
        Assert.That(e, Is.LessThan(tol), $"{what}: relative error {e:E3} (max abs {MaxAbsError(got, want):E3})");
    }
}
