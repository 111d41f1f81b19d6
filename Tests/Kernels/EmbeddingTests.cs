using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Kernels;

public sealed class EmbeddingTests : GpuTest
{
    // maxTexels = 0: the device limit (one view); small values force the split over several views.
    [TestCase(1001, 7, DType.F32, 2, 9, 0)]
    [TestCase(1001, 6, DType.F16, 3, 11, 0)]
    [TestCase(777, 10, DType.BF16, 2, 40, 0)]
    [TestCase(1001, 6, DType.F16, 3, 50, 64 * 3)]   // views of 64 rows (12-byte rows: 64 rows keep 256-byte alignment)
    [TestCase(300, 7, DType.F32, 2, 60, 1000)]      // views of 128 rows (28-byte rows align every 64) and a last one of 44
    [TestCase(200, 4096, DType.BF16, 1, 20, 8 * 2048)] // T5 width, 8-row views
    public void MatchesCpu(int vocab, int d, DType dtype, int batch, int len, long maxTexels)
    {
        var rng = new Random(vocab + d + len);
        var table = HostTensor.FromFloat32(Check.Randn(rng, (long)vocab * d), vocab, d).To(dtype);
        var tf = table.ToFloat32();
        var ids = new int[batch * len];
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(vocab);
        ids[0] = vocab - 1;
        ids[^1] = 0;
        Embedding.CheckIds(ids, vocab);
        using var s = new Scratch(Gpu);
        var I = s.I32(ids, batch, len);
        var T = s.Upload(table);
        var Y = s.Empty(DType.F32, batch, len, d);
        Run(seq =>
        {
            if (maxTexels == 0) Embedding.Record(seq, I, T, Y);
            else Embedding.Record(seq, I, T, Y, maxTexels);
        });
        var want = new double[Y.Elements];
        for (int t = 0; t < ids.Length; t++)
            for (int c = 0; c < d; c++) want[(long)t * d + c] = tf[(long)ids[t] * d + c];
        Assert.That(Y.ToArray(), Is.EqualTo(Array.ConvertAll(want, v => (float)v)), "embedding rows are exact copies");
    }

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
