using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace T2X.Benchmarks;

/// <summary>
/// OpenBLAS's sgemm (Debian package libopenblas0), the CPU baseline the benchmarks run beside ours, at its best kernel.
/// OpenBLAS 0.3.21 picks its kernel from the CPU model when the library loads and mis-detects newer CPUs (an AVX-512
/// Xeon gets the SSE3 "Prescott" kernel at a fifth of the speed). So unless the user chose one with OPENBLAS_CORETYPE,
/// the kernel is chosen here from the CPU's features before the library loads, and <see cref="Kernel"/> says which ran.
/// </summary>
public static unsafe partial class OpenBlas
{
    const string Library = "libopenblas.so.0";
    const int RowMajor = 101, NoTrans = 111, Trans = 112;

    [LibraryImport(Library, EntryPoint = "cblas_sgemm")]
    private static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(Library, EntryPoint = "openblas_get_corename")]
    private static partial nint openblas_get_corename();

    [LibraryImport(Library, EntryPoint = "openblas_get_num_threads")]
    private static partial int openblas_get_num_threads();

    // The native environment, which OpenBLAS reads when it loads (Environment.SetEnvironmentVariable does not reach it).
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    static readonly Lazy<bool> Loaded = new(Load);

    /// <summary>True when the library loads (the benchmarks then report the baseline).</summary>
    public static bool Available => Loaded.Value;

    /// <summary>The kernel OpenBLAS runs (its core name) and why, e.g. "SkylakeX (chosen from the CPU's AVX-512)".</summary>
    public static string Kernel { get; private set; } = "not loaded";

    /// <summary>The threads OpenBLAS uses.</summary>
    public static int Threads => Available ? openblas_get_num_threads() : 0;

    /// <summary>The best sgemm kernel of OpenBLAS 0.3.21 for this CPU's features (null: leave it to OpenBLAS).</summary>
    public static string? BestKernel()
    {
        if (Avx512F.IsSupported && Avx512F.VL.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported) return "SkylakeX";
        if (Avx2.IsSupported && Fma.IsSupported) return "Haswell";
        return null;
    }

    static bool Load()
    {
        string? set = Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE");
        string? best = BestKernel();
        string why;
        if (!string.IsNullOrEmpty(set))
            why = string.Equals(set, best, StringComparison.OrdinalIgnoreCase) || best is null
                ? "from OPENBLAS_CORETYPE"
                : $"from OPENBLAS_CORETYPE; this CPU's best is {best}: unset OPENBLAS_CORETYPE for the fair baseline";
        else if (best is not null)
        {
            setenv("OPENBLAS_CORETYPE", best, 1);
            why = "chosen from the CPU's features";
        }
        else why = "detected by OpenBLAS";
        if (!NativeLibrary.TryLoad(Library, out _)) return false;
        Kernel = $"{Marshal.PtrToStringUTF8(openblas_get_corename())} ({why})";
        return true;
    }

    /// <summary>y[M,N] = x[M,K]·w[N,K]ᵀ, the same product as Gemm without epilogue.</summary>
    public static void Gemm(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y, int m, int n, int k)
    {
        if (!Available) throw new InvalidOperationException($"{Library} is not installed (Debian package libopenblas0)");
        if (x.Length < (long)m * k || w.Length < (long)n * k || y.Length < (long)m * n)
            throw new ArgumentException($"sgemm: arrays too small for {m}x{n}x{k}");
        fixed (float* px = x, pw = w, py = y)
            cblas_sgemm(RowMajor, NoTrans, Trans, m, n, k, 1f, px, k, pw, k, 0f, py, n);
    }
}
