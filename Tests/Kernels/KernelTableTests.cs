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
        var run = c.Make(scratch);
        Run(run.Record);
        Compare(run, c.Tolerance, c.Name);
    }

    /// <summary>The output against the reference: within the relative-norm tolerance, or value for value when it is
    /// <see cref="KernelCase.Exact"/>.</summary>
    public static void Compare(KernelRun run, double tolerance, string what)
    {
        if (tolerance == KernelCase.Exact)
            Assert.That(run.Output.ToArray(), Is.EqualTo(Array.ConvertAll(run.Want(), v => (float)v)), $"{what}: exact values");
        else
            Check.Close(run.Output.ToArray(), run.Want(), tolerance, what);
    }
}
