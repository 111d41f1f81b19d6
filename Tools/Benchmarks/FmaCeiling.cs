using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using T2X.Vulkan;

namespace T2X.Benchmarks;

/// <summary>
/// The arithmetic ceiling of a CPU device: GFLOP/s of a native loop of independent fused multiply-adds at the vector
/// width lavapipe's JIT uses (256 bits unless LP_NATIVE_VECTOR_WIDTH=512), on as many threads as lavapipe runs
/// (LP_NUM_THREADS, default: the cores). No shader on that device can beat it; every benchmark figure is shown beside it.
/// </summary>
public static class FmaCeiling
{
    /// <summary>lavapipe's vector width in bits, from its device name ("llvmpipe (LLVM 15.0.6, 256 bits)"); 256 otherwise.</summary>
    public static int VectorBits(DeviceInfo info)
    {
        var m = System.Text.RegularExpressions.Regex.Match(info.Name, @"(\d+) bits");
        return m.Success ? int.Parse(m.Groups[1].Value) : 256;
    }

    /// <summary>lavapipe's worker threads.</summary>
    public static int Threads() =>
        int.TryParse(Environment.GetEnvironmentVariable("LP_NUM_THREADS"), out int n) && n > 0 ? n : Environment.ProcessorCount;

    /// <summary>Measures the ceiling (GFLOP/s; the best of a few tries); null where this CPU has no FMA at that width.</summary>
    public static double? Measure(int bits, int threads)
    {
        Func<long, float> loop = bits switch
        {
            512 when Avx512F.IsSupported => Loop512,
            256 when Fma.IsSupported => Loop256,
            _ => null!,
        };
        if (loop is null) return null;
        const long iterations = 20_000_000;
        loop(1000);   // JIT
        double best = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => loop(iterations));
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            best = Math.Max(best, threads * iterations * Accumulators * (bits / 32) * 2.0 / seconds / 1e9);
        }
        return best;
    }

    // Twelve independent chains hide the FMA latency (4 cycles) on two FMA pipes.
    const int Accumulators = 12;

    static float Loop256(long n)
    {
        var b = Vector256.Create(0.999999f);
        var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = Vector256.Create(2f), a2 = Vector256.Create(3f), a3 = Vector256.Create(4f),
            a4 = Vector256.Create(5f), a5 = Vector256.Create(6f), a6 = Vector256.Create(7f), a7 = Vector256.Create(8f),
            a8 = Vector256.Create(9f), a9 = Vector256.Create(10f), a10 = Vector256.Create(11f), a11 = Vector256.Create(12f);
        for (long i = 0; i < n; i++)
        {
            a0 = Fma.MultiplyAdd(a0, b, c); a1 = Fma.MultiplyAdd(a1, b, c); a2 = Fma.MultiplyAdd(a2, b, c); a3 = Fma.MultiplyAdd(a3, b, c);
            a4 = Fma.MultiplyAdd(a4, b, c); a5 = Fma.MultiplyAdd(a5, b, c); a6 = Fma.MultiplyAdd(a6, b, c); a7 = Fma.MultiplyAdd(a7, b, c);
            a8 = Fma.MultiplyAdd(a8, b, c); a9 = Fma.MultiplyAdd(a9, b, c); a10 = Fma.MultiplyAdd(a10, b, c); a11 = Fma.MultiplyAdd(a11, b, c);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).GetElement(0);
    }

    static float Loop512(long n)
    {
        var b = Vector512.Create(0.999999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = Vector512.Create(2f), a2 = Vector512.Create(3f), a3 = Vector512.Create(4f),
            a4 = Vector512.Create(5f), a5 = Vector512.Create(6f), a6 = Vector512.Create(7f), a7 = Vector512.Create(8f),
            a8 = Vector512.Create(9f), a9 = Vector512.Create(10f), a10 = Vector512.Create(11f), a11 = Vector512.Create(12f);
        for (long i = 0; i < n; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, b, c); a1 = Avx512F.FusedMultiplyAdd(a1, b, c); a2 = Avx512F.FusedMultiplyAdd(a2, b, c);
            a3 = Avx512F.FusedMultiplyAdd(a3, b, c); a4 = Avx512F.FusedMultiplyAdd(a4, b, c); a5 = Avx512F.FusedMultiplyAdd(a5, b, c);
            a6 = Avx512F.FusedMultiplyAdd(a6, b, c); a7 = Avx512F.FusedMultiplyAdd(a7, b, c); a8 = Avx512F.FusedMultiplyAdd(a8, b, c);
            a9 = Avx512F.FusedMultiplyAdd(a9, b, c); a10 = Avx512F.FusedMultiplyAdd(a10, b, c); a11 = Avx512F.FusedMultiplyAdd(a11, b, c);
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).GetElement(0);
    }
}
