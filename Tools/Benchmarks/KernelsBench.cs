using T2X.Vulkan;

namespace T2X.Benchmarks;

/// <summary>The rows of <see cref="KernelTable.Bench"/>: each case's time, and its relative error against the
/// reference next to the tolerance the tests hold it to.</summary>
public sealed class KernelsBench : IBench
{
    public string Name => "kernels";

    public IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options)
    {
        foreach (var c in KernelTable.Bench)
        {
            using var scratch = new Scratch(gpu);
            var run = c.Setup(scratch, new Random(c.Seed));
            using var seq = new Sequence(gpu);
            run.Record(seq);
            double seconds = Benches.Median(seq.Run, options.Repeats);
            double error = KernelInputs.RelativeError(run.Output.ToArray(), run.Want());
            yield return new BenchResult(c.Name).With("ms", Math.Round(seconds * 1e3, 3))
                .With("rel_err", error).With("tolerance", c.Tolerance);
        }
    }
}
