using T2X.Benchmarks;
using T2X.Vulkan;

namespace T2X.Host.Commands;

public static class BenchCommand
{
    public static int Run(Args a)
    {
        bool json = a.Flag("json");
        bool quick = a.Flag("quick");
        int repeats = a.Int("repeats", 5);
        string? only = a.Option("only");
        string? device = a.Option("device");
        var gemm = GemmShape(a.Option("gemm"));
        var rowGroups = RowGroups(a.Option("texel-row-groups"));
        a.Done();
        var benches = Benches.All.Where(b => only is null || only.Split(',').Contains(b.Name)).ToList();
        if (benches.Count == 0)
            throw new UsageException($"no benchmark named '{only}'; known: {string.Join(", ", Benches.All.Select(b => b.Name))}");
        using var gpu = new Gpu(new GpuOptions { Device = device, Validation = false });
        var machine = Machine(gpu);
        Console.WriteLine(json ? machine.ToJson() : machine.ToString());
        // On a CPU device every figure stands beside the machine's FMA ceiling at the JIT's width.
        object? ceiling = machine.Fields.GetValueOrDefault("fma_ceiling_gflops");
        foreach (var bench in benches)
            foreach (var r in bench.Run(gpu, new BenchOptions(quick, repeats, gemm, rowGroups)))
            {
                if (ceiling is not null && r.Fields.ContainsKey("gflops")) r.With("fma_ceiling_gflops", ceiling);
                Console.WriteLine(json ? r.ToJson() : r.ToString());
            }
        return 0;
    }

    static (int m, int k, int n)? GemmShape(string? text)
    {
        if (text is null) return null;
        var parts = text.Split('x');
        if (parts.Length != 3 || !parts.All(p => int.TryParse(p, out int v) && v > 0 && v <= 65536))
            throw new UsageException($"--gemm wants MxKxN (rows x reduction x columns, each 1..65536), e.g. 4096x1152x4608; got '{text}'");
        return (int.Parse(parts[0]), int.Parse(parts[1]), int.Parse(parts[2]));
    }

    static int[]? RowGroups(string? text)
    {
        if (text is null) return null;
        var parts = text.Split(',');
        const int max = T2X.Vulkan.Kernels.Gemm.MaxTexelRowGroups;
        if (!parts.All(p => int.TryParse(p, out int v) && v >= 1 && v <= max) || parts.Distinct().Count() != parts.Length)
            throw new UsageException($"--texel-row-groups wants distinct tile heights in groups of 8 rows, each 1..{max}, e.g. 2,3,4; got '{text}'");
        return parts.Select(int.Parse).ToArray();
    }

    /// <summary>What the figures are measured on: the device, the baseline's OpenBLAS kernel and threads, and on a CPU
    /// device the FMA ceiling at lavapipe's vector width and thread count.</summary>
    static BenchResult Machine(Gpu gpu)
    {
        var r = new BenchResult("machine").With("device", gpu.Info.ToString())
            .With("openblas", OpenBlas.Available ? OpenBlas.Kernel : "not installed (Debian package libopenblas0)");
        if (OpenBlas.Available) r.With("openblas_threads", OpenBlas.Threads);
        if (gpu.Info.IsCpu)
        {
            int bits = FmaCeiling.VectorBits(gpu.Info), threads = FmaCeiling.Threads();
            r.With("vector_bits", bits).With("threads", threads);
            if (FmaCeiling.Measure(bits, threads) is double gflops) r.With("fma_ceiling_gflops", Math.Round(gflops, 1));
        }
        return r;
    }
}
