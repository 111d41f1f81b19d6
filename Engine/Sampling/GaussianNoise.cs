namespace T2X.Vulkan.Sampling;

/// <summary>
/// Seeded standard-normal noise that is the same for the same seed on every machine and device: generated on the
/// host with integer hashing and IEEE double arithmetic only (+, −, ×, ÷, sqrt and a series logarithm), never
/// with the platform's Random or its libm.
///
/// Definition. Uniform number k of a seed is u_k = (splitmix64(seed + (k+1)·0x9E3779B97F4A7C15) >> 11) · 2^-53.
/// Normals come in pairs by Marsaglia's polar method over the uniform stream: take a = 2·u_k − 1, b = 2·u_{k+1} − 1,
/// k += 2; s = a² + b²; if 0 &lt; s &lt; 1 emit a·m and b·m with m = sqrt(−2·ln(s)/s), otherwise draw again.
/// Values are rounded to float32.
/// </summary>
internal static class GaussianNoise
{
    /// <summary>n standard-normal float32 values for a seed.</summary>
    public static float[] Generate(ulong seed, long n)
    {
        var result = new float[n];
        ulong k = 0;
        for (long i = 0; i < n;)
        {
            double a = 2 * Uniform(seed, k) - 1, b = 2 * Uniform(seed, k + 1) - 1;
            k += 2;
            double s = a * a + b * b;
            if (s >= 1 || s == 0) continue;
            double m = Math.Sqrt(-2 * Log(s) / s);
            result[i++] = (float)(a * m);
            if (i < n) result[i++] = (float)(b * m);
        }
        return result;
    }

    /// <summary>Uniform number k of the seed's stream, in [0, 1) with 53 random bits.</summary>
    public static double Uniform(ulong seed, ulong k) => (SplitMix64(seed + (k + 1) * 0x9E3779B97F4A7C15UL) >> 11) * (1.0 / (1UL << 53));

    static ulong SplitMix64(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Natural log of x in (0, 1] from basic IEEE operations only, so it rounds identically everywhere:
    /// x = m·2^e with m in [√½, √2), ln m = 2·atanh(t), t = (m−1)/(m+1), |t| ≤ 0.172, summed to 1e-20.</summary>
    internal static double Log(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7FF);
        if (e == 0) // subnormal: scale up first (never happens for s ≥ 2^-106, kept for completeness)
            return Log(x * 18014398509481984.0) - 54 * Ln2;
        e -= 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L); // [1, 2)
        if (m > 1.4142135623730951) { m *= 0.5; e++; }
        double t = (m - 1) / (m + 1), t2 = t * t, term = t, sum = 0;
        for (int j = 1; j < 40; j += 2)
        {
            sum += term / j;
            term *= t2;
        }
        return 2 * sum + e * Ln2;
    }

    const double Ln2 = 0.69314718055994530942;
}
