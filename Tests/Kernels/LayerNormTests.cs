using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>Chunked rows, in place, sliced modulation and shape errors; the plain and modulated shapes are rows of
/// the kernel table (KernelTableTests).</summary>
public sealed class LayerNormTests : GpuTest
{
    // Bindings limited to 50 rows: 48-row chunks (80-byte rows keep 256-byte alignment every 16 rows),
    // whose boundaries cut through the 7-row modulation groups.
    [Test]
    public void ChunkedRows()
    {
        const int rows = 300, d = 20, groups = 3, rowDiv = 7;
        var rng = new Random(300);
        var x = Check.Randn(rng, rows * d);
        var shift = Check.Randn(rng, groups * d);
        var scale = Check.Randn(rng, groups * d);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, rows, d);
        var Y = s.Empty(DType.F32, rows, d);
        var Sh = s.F32(shift, groups, d);
        var Sc = s.F32(scale, groups, d);
        using var seq = new Sequence(Gpu);
        LayerNorm.Record(seq, X, Y, 1e-6f, Sh, Sc, rowDiv, SmallBindings.Of(50 * d * 4));
        Assert.That(seq.Dispatches, Is.EqualTo(7));
        seq.Run();
        Check.Close(Y.ToArray(), KernelTable.LayerNormReference(KernelInputs.Widen(x), rows, d, 1e-6, shift, scale, rowDiv, groups), 1e-5, "layer_norm chunked");
    }

    [Test]
    public void InPlace()
    {
        var rng = new Random(5);
        var x = Check.Randn(rng, 11 * 20);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, 11, 20);
        Run(seq => LayerNorm.Record(seq, X, X, 1e-5f));
        Check.Close(X.ToArray(), KernelTable.LayerNormReference(KernelInputs.Widen(x), 11, 20, 1e-5, null, null, 1, 1), 1e-5, "layer_norm in place");
    }

    [Test]
    public void RejectsBadShapes()
    {
        using var s = new Scratch(Gpu);
        var X = s.Empty(DType.F32, 4, 8);
        var bad = s.Empty(DType.F32, 2, 7);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => LayerNorm.Record(seq, X, X, 1e-6f, bad, bad, 2)));
        Assert.That(ex!.Message, Does.Contain("shift").And.Contain("[2,8]"));
        ex = Assert.Throws<ArgumentException>(() => Run(seq => LayerNorm.Record(seq, X, bad, 1e-6f)));
        Assert.That(ex!.Message, Does.Contain("y"));
        var odd = s.Empty(DType.F32, 3, 6);
        ex = Assert.Throws<ArgumentException>(() => Run(seq => LayerNorm.Record(seq, odd, odd, 1e-6f)));
        Assert.That(ex!.Message, Does.Contain("multiple of 4"));
        var shifted = new Tensor(X.Buffer, 4, DType.F32, 2, 4); // a texel view cannot start at byte 4
        ex = Assert.Throws<ArgumentException>(() => Run(seq => LayerNorm.Record(seq, shifted, shifted, 1e-6f)));
        Assert.That(ex!.Message, Does.Contain("alignment"));
    }

    // Modulation vectors are slices of one [R, G, D] modulation output, as the model passes them.
    [Test]
    public void ModulationFromSlicesOfOneTensor()
    {
        const int batch = 2, windows = 3, tokens = 4, d = 36;
        var rng = new Random(77);
        var x = Check.Randn(rng, batch * windows * tokens * d);
        var mod = Check.Randn(rng, 6 * batch * d);
        using var s = new Scratch(Gpu);
        var X = s.F32(x, batch * windows, tokens, d);
        var M = s.F32(mod, 6, batch, d);
        var Y = s.Empty(DType.F32, batch * windows, tokens, d);
        Run(seq => LayerNorm.Record(seq, X, Y, 1e-6f, M.Slice(3, 1).Reshape(batch, d), M.Slice(4, 1).Reshape(batch, d), tokens));
        var shift = mod.AsSpan(3 * batch * d, batch * d).ToArray();
        var scale = mod.AsSpan(4 * batch * d, batch * d).ToArray();
        Check.Close(Y.ToArray(), KernelTable.LayerNormReference(KernelInputs.Widen(x), batch * windows * tokens, d, 1e-6, shift, scale, tokens, batch), 1e-5, "layer_norm sliced modulation");
    }
}
