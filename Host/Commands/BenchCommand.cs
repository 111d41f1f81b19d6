using T2X.Tools.Benchmarks;
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
        a.Done();
        var benches = Benches.All.Where(b => only is null || only.Split(',').Contains(b.Name)).ToList();
        if (benches.Count == 0)
            throw new UsageException($"no benchmark named '{only}'; known: {string.Join(", ", Benches.All.Select(b => b.Name))}");
        using var gpu = new Gpu(new GpuOptions { Device = device, Validation = false });
        if (!json) Console.WriteLine($"device: {gpu.Info}");
        foreach (var bench in benches)
            foreach (var r in bench.Run(gpu, new BenchOptions(quick, repeats)))
                Console.WriteLine(json ? r.ToJson() : r.ToString());
        return 0;
    }
}
