using System.Runtime.InteropServices;

namespace T2X.Tools.Benchmarks;

/// <summary>OpenBLAS's sgemm (Debian package libopenblas0), the CPU baseline the GEMM benchmark runs beside ours.</summary>
public static unsafe partial class OpenBlas
{
    const string Library = "libopenblas.so.0";
    const int RowMajor = 101, NoTrans = 111, Trans = 112;

    [LibraryImport(Library, EntryPoint = "cblas_sgemm")]
    private static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    /// <summary>True when the library loads (the benchmark then reports the baseline).</summary>
    public static bool Available => NativeLibrary.TryLoad(Library, out _);

    /// <summary>y[M,N] = x[M,K]·w[N,K]ᵀ, the same product as Gemm without epilogue.</summary>
    public static void Gemm(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y, int m, int n, int k)
    {
        if (x.Length < (long)m * k || w.Length < (long)n * k || y.Length < (long)m * n)
            throw new ArgumentException($"sgemm: arrays too small for {m}x{n}x{k}");
        fixed (float* px = x, pw = w, py = y)
            cblas_sgemm(RowMajor, NoTrans, Trans, m, n, k, 1f, px, k, pw, k, 0f, py, n);
    }
}
