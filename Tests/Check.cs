using NUnit.Framework;

namespace T2X.Tests;

/// <summary>Random data and comparisons shared by kernel and model tests.</summary>
public static class Check
{
    /// <summary>Fresh random normal values (seeded from the test's random source so failures are reproducible).</summary>
    public static float[] Randn(Random rng, long n, double scale = 1.0)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            a[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }

    /// <summary>‖got − want‖ / ‖want‖ over all elements.</summary>
    public static double RelativeError(ReadOnlySpan<float> got, ReadOnlySpan<double> want)
    {
        Assert.That(got.Length, Is.EqualTo(want.Length), "length");
        double num = 0, den = 0;
        for (int i = 0; i < got.Length; i++)
        {
            if (!double.IsFinite(got[i])) return double.PositiveInfinity;
            double d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return Math.Sqrt(num / Math.Max(den, 1e-300));
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
