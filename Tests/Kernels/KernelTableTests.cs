using NUnit.Framework;
using T2X.Benchmarks;

namespace T2X.Tests.Kernels;

/// <summary>Every row of the kernel table (Tools/Benchmarks/KernelTable.cs) against its double-precision reference.</summary>
public sealed class KernelTableTests : GpuTest
{
    static IEnumerable<TestCaseData> Cases() => KernelTable.Tests.Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Cases))]
    public void MatchesCpu(KernelCase c)
    {
        using var scratch = new Scratch(Gpu);
        var run = c.Setup(scratch, new Random(c.Seed));
        Run(run.Record);
        Check.Close(run.Output.ToArray(), run.Want(), c.Tolerance, c.Name);
    }
}
