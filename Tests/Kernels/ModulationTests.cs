using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Kernels;

public sealed class ModulationTests : GpuTest
{
    // (table rows R, temb chunks, samples G, D): the block's 6 rows and the shifted-window 3 rows with
    // temb6, and the final layer's 2 rows with a one-chunk temb.
    [TestCase(6, 6, 2, 37, DType.F32)]
    [TestCase(3, 6, 3, 21, DType.BF16)]
    [TestCase(2, 1, 2, 45, DType.F16)]
    [TestCase(6, 6, 1, 1152, DType.BF16)]
    public void MatchesCpu(int r, int chunks, int g, int d, DType dtype)
    {
        var rng = new Random(r * 100 + d);
        var table = HostTensor.FromFloat32(Check.Randn(rng, r * d), r, d).To(dtype);
        var tf = table.ToFloat32();
        var temb = Check.Randn(rng, g * chunks * d);
        using var s = new Scratch(Gpu);
        var T = s.Upload(table);
        var E = s.F32(temb, g, chunks * d);
        var O = s.Empty(DType.F32, r, g, d);
        Run(seq => Modulation.Record(seq, T, E, O));
        var want = new double[r * g * d];
        for (int j = 0; j < r; j++)
            for (int b = 0; b < g; b++)
                for (int c = 0; c < d; c++)
                    want[(j * g + b) * d + c] = (double)tf[j * d + c] + temb[b * chunks * d + (chunks == 1 ? 0 : j * d) + c];
        Check.Close(O.ToArray(), want, 1e-6, $"modulation {dtype}");
    }

    [Test]
    public void RejectsTooFewChunks()
    {
        using var s = new Scratch(Gpu);
        var T = s.Empty(DType.F32, 6, 8);
        var E = s.Empty(DType.F32, 2, 24);
        var O = s.Empty(DType.F32, 6, 2, 8);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => Modulation.Record(seq, T, E, O)));
        Assert.That(ex!.Message, Does.Contain("temb"));
    }
}
