using NUnit.Framework;
using T2X.Tests.Reference;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Models;

/// <summary>The CPU reference against the check values of the official code (docs/ptdit.md), and against properties the model must have.</summary>
public class PtDitReferenceTests
{
    [Test]
    public void PositionTableSpotValues()
    {
        // docs/ptdit.md §4.2: D = 1152, 64×64 grid, f = 0; channel -> value.
        int[] channels = [288, 289, 504, 720, 721, 936, 1151];
        var cases = new (int r, int c, double[] want)[]
        {
            (0, 1, [0.841471, 0.81819, 0.5403023, 0, 0, 1, 1]),
            (1, 0, [0, 0, 1, 0.841471, 0.81819, 0.5403023, 1]),
            (5, 9, [0.4121185, 0.7176871, -0.9111302, -0.9589243, -0.9968898, 0.2836622, 0.9999999]),
        };
        foreach (var (r, c, want) in cases)
        {
            var e = PtDitReference.PositionEmbedding(0, r, c, 64, 64, 1152);
            for (int i = 0; i < channels.Length; i++)
                Assert.That(e[channels[i]], Is.EqualTo(want[i]).Within(1e-6), $"token ({r},{c}) channel {channels[i]}");
            Assert.That((e[0], e[144]), Is.EqualTo((0.0, 1.0)));
        }
        // Non-square 48 rows × 80 columns (docs/ptdit.md, quirk Q2): token (1,0) has a = 32, q = 1.
        var ns = PtDitReference.PositionEmbedding(0, 1, 0, 48, 80, 1152);
        Assert.That(ns[288], Is.EqualTo(0.5514267).Within(1e-6));
        Assert.That(ns[720], Is.EqualTo(0.841471).Within(1e-6));
    }

    [Test]
    public void TimestepSinusoidCheckValues()
    {
        var e = PtDitReference.TimestepSinusoid(1000);
        int[] channels = [0, 1, 2, 127, 128, 129, 255];
        double[] want = [0.5623791, 0.7896267, 0.4399279, 0.9942316, 0.8268796, 0.6135876, 0.1072541];
        for (int i = 0; i < channels.Length; i++)
            Assert.That(e[channels[i]], Is.EqualTo(want[i]).Within(2e-6), $"channel {channels[i]}");
    }

    [Test]
    public void ShiftedWindowMaskCounts()
    {
        // docs/ptdit.md §6 at 1024 px: 8×8 windows of 64 tokens; masked pairs 2048 on the last row/column, 3072 in the corner.
        var g = new PtDitReference.Geometry(PtDitConfig.Released, 1, 64, 64);
        var labels = g.RolledRegionLabels();
        for (int p = 0; p < g.Windows; p++)
        {
            int masked = 0;
            for (int i = 0; i < 64; i++)
                for (int j = 0; j < 64; j++)
                    if (labels[p * 64 + i] != labels[p * 64 + j]) masked++;
            bool lastRow = p / 8 == 7, lastCol = p % 8 == 7;
            int want = lastRow && lastCol ? 3072 : lastRow || lastCol ? 2048 : 0;
            Assert.That(masked, Is.EqualTo(want), $"window {p}");
        }
    }

    [Test]
    public void RollAndLayoutAreBijections()
    {
        var c = PtDitConfig.Released with { CompressRatios = [2, 4, 2] };
        var g = new PtDitReference.Geometry(c, 4, 8, 6);
        var seen = new bool[g.Tokens];
        for (int s = 0; s < g.Tokens; s++)
        {
            var (f, r, col) = g.Cell(s);
            Assert.That(g.Seq(f, r, col), Is.EqualTo(s));
        }
        foreach (var s in g.RolledSource()) { Assert.That(seen[s], Is.False); seen[s] = true; }
        // Rolled cell (0,0,0) holds original cell (1, 2, 1).
        Assert.That(g.RolledSource()[0], Is.EqualTo(g.Seq(1, 2, 1)));
    }

    static PtDitConfig Tiny(int[] window, int[] proxy, bool shift = true, int heads = 2, int layers = 2) => PtDitConfig.Released with
    {
        NumHeads = heads, HeadDim = 8, CrossAttentionDim = heads * 8, InChannels = 3, OutChannels = 6, NumLayers = layers,
        CaptionChannels = 12, PatchSize = 2, SampleSize = 8, CompressRatios = window, ProxyCompressRatios = proxy, ShiftWindow = shift,
    };

    static (double[] lat, double[] t, double[] text, double[] mask) Inputs(PtDitConfig c, int B, int F, int H, int W, int L, int seed)
    {
        var rng = new Random(seed);
        var lat = Array.ConvertAll(Check.Randn(rng, (long)B * c.InChannels * F * H * W), x => (double)x);
        var t = Enumerable.Range(0, B).Select(_ => rng.NextDouble() * 1000).ToArray();
        var text = Array.ConvertAll(Check.Randn(rng, (long)B * L * c.CaptionChannels), x => (double)x);
        var mask = Enumerable.Range(0, B * L).Select(i => i % L < 2 || rng.NextDouble() < 0.5 ? 1.0 : 0.0).ToArray();
        return (lat, t, text, mask);
    }

    [Test]
    public void GlobalModeEqualsProxyModeWhenOneWindowCoversTheImageAndTheProxyBranchesAreZero()
    {
        // With a single window holding every token, window attention is global attention. Zeroing linear_1_visual and
        // linear_2 removes the proxy and shifted-window contributions, so both modes must agree exactly.
        var c = Tiny([1, 4, 4], [1, 2, 2]);
        var w = PtDitRandomCheckpoint.Create(c, 7);
        foreach (var k in w.Keys.Where(k => k.Contains("linear_1_visual") || k.Contains("linear_2.")).ToList())
            w[k] = HostTensor.FromFloat32(new float[w[k].Elements], w[k].Shape);
        var (lat, t, text, mask) = Inputs(c, 2, 1, 8, 8, 5, 1);
        var reference = new PtDitReference(c, w);
        var proxy = reference.Forward(lat, 2, 1, 8, 8, t, text, 5, mask, AttentionMode.Proxy);
        var global = reference.Forward(lat, 2, 1, 8, 8, t, text, 5, mask, AttentionMode.Global);
        Assert.That(proxy.Zip(global, (a, b) => Math.Abs(a - b)).Max(), Is.LessThan(1e-12));
        // And the branches matter when not zeroed.
        var full = new PtDitReference(c, PtDitRandomCheckpoint.Create(c, 7)).Forward(lat, 2, 1, 8, 8, t, text, 5, mask);
        Assert.That(full.Zip(proxy, (a, b) => Math.Abs(a - b)).Max(), Is.GreaterThan(1e-3));
    }

    [Test]
    public void BatchRowsAreIndependentWhenTimestepsAreEqual()
    {
        // Sample b of a batch must equal the same sample run alone (equal timesteps, so quirk Q1 of docs/ptdit.md has no effect).
        var c = Tiny([1, 2, 4], [1, 1, 2]);
        var w = PtDitRandomCheckpoint.Create(c, 3);
        var (lat, t, text, mask) = Inputs(c, 2, 2, 8, 16, 4, 2);
        t[1] = t[0];
        var r = new PtDitReference(c, w);
        var both = r.Forward(lat, 2, 2, 8, 16, t, text, 4, mask);
        int per = lat.Length / 2, outPer = both.Length / 2;
        var second = r.Forward(lat[per..], 1, 2, 8, 16, t[1..], text[(text.Length / 2)..], 4, mask[4..]);
        Assert.That(second.Zip(both[outPer..], (a, b) => Math.Abs(a - b)).Max(), Is.LessThan(1e-12));
        // Mixed timesteps: the block modulation of window row R uses sample R mod B (Q1), so results differ from solo runs.
        t[1] = t[0] + 300;
        var mixed = r.Forward(lat, 2, 2, 8, 16, t, text, 4, mask);
        var solo = r.Forward(lat[per..], 1, 2, 8, 16, t[1..], text[(text.Length / 2)..], 4, mask[4..]);
        Assert.That(solo.Zip(mixed[outPer..], (a, b) => Math.Abs(a - b)).Max(), Is.GreaterThan(1e-6));
    }

    [Test]
    public void StoredPositionBufferIsUsedOnlyAtItsGrid()
    {
        var c = Tiny([1, 2, 2], [1, 2, 2]);
        var (lat, t, text, mask) = Inputs(c, 1, 1, 8, 8, 3, 4);
        var without = PtDitRandomCheckpoint.Create(c, 5);
        var with = PtDitRandomCheckpoint.Create(c, 5, buffer: PositionBuffer.Random);
        double Diff(int H, int W)
        {
            var (l, tt, tx, m) = Inputs(c, 1, 1, H, W, 3, 4);
            var a = new PtDitReference(c, without).Forward(l, 1, 1, H, W, tt, tx, 3, m);
            var b = new PtDitReference(c, with).Forward(l, 1, 1, H, W, tt, tx, 3, m);
            return a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
        }
        Assert.That(Diff(8, 8), Is.GreaterThan(1e-3), "sample_size 8 → 4×4 token grid: the stored buffer is used");
        Assert.That(Diff(8, 12), Is.EqualTo(0), "other grids compute the table");
    }
}
