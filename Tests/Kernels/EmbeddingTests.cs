using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>Out-of-range ids and shape errors; the lookups are rows of the kernel table (KernelTableTests).</summary>
public sealed class EmbeddingTests : GpuTest
{
    [Test]
    public void OutOfRangeIdsGiveZeroRowsAndFailTheHostCheck()
    {
        const int vocab = 50, d = 4;
        var rng = new Random(3);
        var table = Check.Randn(rng, vocab * d);
        int[] ids = [3, -1, 50, 49, int.MaxValue];
        var ex = Assert.Throws<ArgumentException>(() => Embedding.CheckIds(ids, vocab));
        Assert.That(ex!.Message, Does.Contain("-1").And.Contain("position 1"));
        using var s = new Scratch(Gpu);
        var I = s.I32(ids, ids.Length);
        var T = s.F32(table, vocab, d);
        var Y = s.F32(Enumerable.Repeat(7f, ids.Length * d).ToArray(), ids.Length, d);
        Run(seq => Embedding.Record(seq, I, T, Y, 16 * 4)); // 16-row views: the zero rows come from the first only
        var got = Y.ToArray();
        for (int t = 0; t < ids.Length; t++)
            for (int c = 0; c < d; c++)
            {
                float want = ids[t] >= 0 && ids[t] < vocab ? table[ids[t] * d + c] : 0f;
                Assert.That(got[t * d + c], Is.EqualTo(want), $"token {t} (id {ids[t]}) channel {c}");
            }
    }

    [Test]
    public void RejectsOddHalfRows()
    {
        using var s = new Scratch(Gpu);
        var I = s.I32([0, 1], 2);
        var T = s.Empty(DType.F16, 10, 5);
        var Y = s.Empty(DType.F32, 2, 5);
        var ex = Assert.Throws<ArgumentException>(() => Run(seq => Embedding.Record(seq, I, T, Y)));
        Assert.That(ex!.Message, Does.Contain("multiple of 4 bytes"));
    }
}
