using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

[TestFixture(AttentionVariant.Subgroup)]
[TestFixture(AttentionVariant.SharedMemory)]
public sealed class AttentionTests(AttentionVariant variant) : GpuTest
{
    /// <summary>How Q, K and V are laid out.</summary>
    public enum Inputs
    {
        /// <summary>Three tensors [B, N, H·d].</summary>
        Separate,
        /// <summary>Column slices of one [B, N, 3·H·d] tensor (self-attention, Nq = Nk).</summary>
        FusedQkv,
        /// <summary>Q in a wider tensor at channel offset 4; K and V slices of one [B, Nk, 2·H·d] tensor.</summary>
        OffsetQFusedKv,
    }

    public enum Mask { None, Random, OneSampleAllMasked }

    public enum Bias { None, PerHead, Shared }

    [TestCase(2, 37, 19, 3, 8, Inputs.Separate, Mask.None, Bias.None, 0.35355339)]
    [TestCase(1, 1, 1, 2, 12, Inputs.Separate, Mask.None, Bias.None, 0.5)]
    [TestCase(1, 20, 61, 2, 8, Inputs.Separate, Mask.None, Bias.None, 6.0)]   // logits spread ±50: the running maximum is raised often
    [TestCase(1, 9, 203, 2, 8, Inputs.Separate, Mask.Random, Bias.None, 0.5)]
    [TestCase(2, 70, 70, 2, 72, Inputs.FusedQkv, Mask.None, Bias.None, 0.11785113)]
    [TestCase(1, 11, 11, 1, 128, Inputs.FusedQkv, Mask.None, Bias.None, 0.08838835)]   // wide head: fewer rows per lane
    [TestCase(2, 29, 29, 3, 64, Inputs.FusedQkv, Mask.Random, Bias.PerHead, 1.0)]
    [TestCase(2, 33, 21, 2, 12, Inputs.OffsetQFusedKv, Mask.Random, Bias.Shared, 0.3)]
    [TestCase(2, 17, 11, 2, 8, Inputs.OffsetQFusedKv, Mask.OneSampleAllMasked, Bias.None, 0.5)]
    public void MatchesCpu(int batch, int nq, int nk, int heads, int headDim, Inputs inputs, Mask mask, Bias bias, double scale)
    {
        var rng = new Random(HashCode.Combine(batch, nq, nk, heads, headDim, (int)inputs, (int)mask, (int)bias));
        int width = heads * headDim;
        if (inputs == Inputs.FusedQkv) Assert.That(nq, Is.EqualTo(nk), "fused QKV is self-attention");

        // Host data and the row view of each input. A sample whose keys are all masked has logits near −10000, where
        // f32 values are 1e-3 apart: there a last-bit difference in the kernel's dot product (its summation order)
        // can move a logit by a whole step. On a grid of 1/16 (and a power-of-two scale) the dot products are exact
        // in f32 in any order, so the kernel and the reference round the same logits.
        float[] Draw(int n) => mask == Mask.OneSampleAllMasked
            ? Check.Randn(rng, n).Select(x => MathF.Round(x * 16) / 16).ToArray()
            : Check.Randn(rng, n);
        HeadRows qh, kh, vh;
        var tensors = new List<Tensor>();
        AttentionInput qi, ki, vi;
        Tensor Upload(float[] data, params long[] shape) { var t = Tensor.FromArray(Gpu, data, shape); tensors.Add(t); return t; }
        switch (inputs)
        {
            case Inputs.Separate:
            {
                float[] q = Draw(batch * nq * width), k = Draw(batch * nk * width), v = Draw(batch * nk * width);
                (qh, kh, vh) = (new(q, width, 0), new(k, width, 0), new(v, width, 0));
                (qi, ki, vi) = (Upload(q, batch, nq, width), Upload(k, batch, nk, width), Upload(v, batch, nk, width));
                break;
            }
            case Inputs.FusedQkv:
            {
                var qkv = Draw(batch * nq * 3 * width);
                (qh, kh, vh) = (new(qkv, 3 * width, 0), new(qkv, 3 * width, width), new(qkv, 3 * width, 2 * width));
                var t = Upload(qkv, batch, nq, 3 * width);
                (qi, ki, vi) = (new(t, 0), new(t, width), new(t, 2 * width));
                break;
            }
            default:
            {
                int qWidth = width + 8;
                float[] q = Draw(batch * nq * qWidth), kv = Draw(batch * nk * 2 * width);
                (qh, kh, vh) = (new(q, qWidth, 4), new(kv, 2 * width, 0), new(kv, 2 * width, width));
                var t = Upload(kv, batch, nk, 2 * width);
                (qi, ki, vi) = (new(Upload(q, batch, nq, qWidth), 4), new(t, 0), new(t, width));
                break;
            }
        }

        float[]? maskData = mask switch
        {
            Mask.None => null,
            Mask.Random => Enumerable.Range(0, batch * nk).Select(i => i % nk == 0 || rng.Next(3) > 0 ? 1f : 0f).ToArray(),
            _ => Enumerable.Range(0, batch * nk).Select(i => i / nk == 1 ? 0f : (i % 2 == 0 ? 1f : 0f)).ToArray(),
        };
        int biasHeads = bias == Bias.PerHead ? heads : 1;
        float[]? biasData = bias == Bias.None ? null : Check.Randn(rng, biasHeads * nq * nk, 2.0);
        var maskT = maskData is null ? null : Upload(maskData, batch, nk);
        var biasT = biasData is null ? null : Upload(biasData, biasHeads, nq, nk);
        var o = Tensor.Create(Gpu, DType.F32, batch, nq, width);
        tensors.Add(o);

        Run(s => Attention.Record(s, qi, ki, vi, o, heads, headDim, (float)scale, maskT, biasT, variant));

        var want = new double[batch * nq * width];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                int bb = b, hb = bias == Bias.PerHead ? h : 0;
                double PairBias(int i, int j) =>
                    (maskData is null ? 0 : -10000.0 * (1 - maskData[bb * nk + j]))
                    + (biasData is null ? 0 : biasData[(hb * nq + i) * nk + j]);
                var qRows = AttentionReference.Range(b * nq, nq);
                AttentionReference.Head(qh, qRows, kh, vh, AttentionReference.Range(b * nk, nk), h, headDim, scale, PairBias, want, width, qRows);
            }
        Check.Close(o.ToArray(), want, 1e-5, $"attention {variant}");
        foreach (var t in tensors) t.Buffer.Dispose();
    }

    [Test]
    public void AllMaskedRowIsUnmaskedAttention()
    {
        // docs/ptdit.md, quirk Q7: −10000 instead of −inf, so a row with every key masked attends to all keys uniformly-biased,
        // i.e. exactly like no mask at all (up to the f32 rounding of logits near −10000).
        var rng = new Random(7);
        int nq = 5, nk = 13, heads = 2, d = 8, width = heads * d;
        var q = Tensor.FromArray(Gpu, Check.Randn(rng, nq * width, 0.2), 1, nq, width);
        var k = Tensor.FromArray(Gpu, Check.Randn(rng, nk * width, 0.2), 1, nk, width);
        var v = Tensor.FromArray(Gpu, Check.Randn(rng, nk * width), 1, nk, width);
        var zeros = Tensor.FromArray(Gpu, new float[nk], 1, nk);
        var masked = Tensor.Create(Gpu, DType.F32, 1, nq, width);
        var plain = Tensor.Create(Gpu, DType.F32, 1, nq, width);
        Run(s =>
        {
            Attention.Record(s, q, k, v, masked, heads, d, 1f, zeros, variant: variant);
            Attention.Record(s, q, k, v, plain, heads, d, 1f, variant: variant);
        });
        Check.Close(masked.ToArray(), plain.ToArray().Select(x => (double)x).ToArray(), 2e-3, "all-masked vs unmasked");
        foreach (var t in new[] { q, k, v, zeros, masked, plain }) t.Buffer.Dispose();
    }

    [Test]
    public void RejectsBadShapes()
    {
        var q = Tensor.Create(Gpu, DType.F32, 2, 5, 16);
        var k = Tensor.Create(Gpu, DType.F32, 2, 7, 16);
        var o = Tensor.Create(Gpu, DType.F32, 2, 5, 16);
        using var seq = new Sequence(Gpu);
        void Throws(TestDelegate call, string part) =>
            Assert.That(Assert.Throws<ArgumentException>(call)!.Message, Does.Contain(part));
        Throws(() => Attention.Record(seq, q, k, k, o, 2, 6, 1f), "head_dim");
        Throws(() => Attention.Record(seq, q, k, k, o, 4, 8, 1f), "channel offset");
        Throws(() => Attention.Record(seq, q, q, k, o, 2, 8, 1f), "v must be f32 [2, 5, C]");
        Throws(() => Attention.Record(seq, q, k, k, k, 2, 8, 1f), "o must be f32 [2, 5, 16]");
        Throws(() => Attention.Record(seq, q, k, k, o, 2, 8, 1f, keyMask: o), "keyMask must be f32 [2, 7]");
        Throws(() => Attention.Record(seq, q, k, k, o, 2, 8, 1f, bias: Tensor.Create(Gpu, DType.F32, 3, 5, 7)), "bias must be f32 [1 or 2, 5, 7]");
        Throws(() => Attention.Record(seq, new AttentionInput(q, 2), k, k, o, 1, 8, 1f), "channel offset 2");
        foreach (var t in new[] { q, k, o }) t.Buffer.Dispose();
    }
}
