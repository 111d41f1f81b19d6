using NUnit.Framework;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Models.PtDit;

namespace T2X.Tests.Models;

public sealed class PtDitEmbeddingsTests
{
    // Spot values of the official code (docs/ptdit.md §4.2, §4.3), at the precision it printed them.
    [Test]
    public void TimestepSinusoidMatchesSpec()
    {
        var e = PtDitEmbeddings.TimestepSinusoid(1000f);
        int[] channels = [0, 1, 2, 127, 128, 129, 255];
        double[] want = [0.5623791, 0.7896267, 0.4399279, 0.9942316, 0.8268796, 0.6135876, 0.1072541];
        Assert.That(e, Has.Length.EqualTo(256));
        for (int i = 0; i < channels.Length; i++)
            Assert.That(e[channels[i]], Is.EqualTo(want[i]).Within(1e-6), $"channel {channels[i]}");
    }

    [Test]
    public void TimestepSinusoidAtZeroIsCosOnesSinZeros()
    {
        var e = PtDitEmbeddings.TimestepSinusoid(0f, 8);
        Assert.That(e, Is.EqualTo(new float[] { 1, 1, 1, 1, 0, 0, 0, 0 }));
    }

    static float At(float[] table, int tokens, int d, int f, int n, int ch) => table[((long)f * tokens + n) * d + ch];

    [TestCase(0, 1, new[] { 0.841471, 0.81819, 0.5403023, 0, 0, 1, 1 })]
    [TestCase(1, 0, new[] { 0, 0, 1, 0.841471, 0.81819, 0.5403023, 1 })]
    [TestCase(5, 9, new[] { 0.4121185, 0.7176871, -0.9111302, -0.9589243, -0.9968898, 0.2836622, 0.9999999 })]
    public void PositionTableMatchesSpecOnSquareGrid(int r, int c, double[] want)
    {
        var table = PtDitEmbeddings.PositionTable(1, 64, 64, 1152);
        int[] channels = [288, 289, 504, 720, 721, 936, 1151];
        int n = r * 64 + c;
        for (int i = 0; i < channels.Length; i++)
            Assert.That(At(table, 4096, 1152, 0, n, channels[i]), Is.EqualTo(want[i]).Within(1e-6), $"token ({r},{c}) channel {channels[i]}");
        // Temporal band at frame 0: 144 zeros then 144 ones.
        Assert.That(At(table, 4096, 1152, 0, n, 0), Is.EqualTo(0f));
        Assert.That(At(table, 4096, 1152, 0, n, 143), Is.EqualTo(0f));
        Assert.That(At(table, 4096, 1152, 0, n, 144), Is.EqualTo(1f));
        Assert.That(At(table, 4096, 1152, 0, n, 287), Is.EqualTo(1f));
    }

    [Test]
    public void PositionTableReproducesNonSquareQuirk()
    {
        // 48 rows × 80 columns: token (1, 0) has n = 80, so a = 80 mod 48 = 32 and q = 1 (docs/ptdit.md, quirk Q2).
        var table = PtDitEmbeddings.PositionTable(1, 48, 80, 1152);
        Assert.That(At(table, 48 * 80, 1152, 0, 80, 288), Is.EqualTo(0.5514267).Within(1e-6));
        Assert.That(At(table, 48 * 80, 1152, 0, 80, 720), Is.EqualTo(0.841471).Within(1e-6));
    }

    [Test]
    public void PositionTableTemporalBandFollowsFrame()
    {
        const int d = 64; // bands: [0,16) sc(8, f), [16,40) sc(12, a), [40,64) sc(12, q)
        var table = PtDitEmbeddings.PositionTable(3, 2, 4, d);
        for (int f = 0; f < 3; f++)
            for (int k = 0; k < 8; k++)
            {
                double angle = f * Math.Pow(10000, -k / 8.0);
                Assert.That(At(table, 8, d, f, 5, k), Is.EqualTo((float)Math.Sin(angle)), $"frame {f} sin {k}");
                Assert.That(At(table, 8, d, f, 5, 8 + k), Is.EqualTo((float)Math.Cos(angle)), $"frame {f} cos {k}");
            }
        // Token n = 5 of a 2×4 grid: a = 5 mod 2 = 1, q = 5 / 2 = 2.
        Assert.That(At(table, 8, d, 1, 5, 16), Is.EqualTo((float)Math.Sin(1.0)));
        Assert.That(At(table, 8, d, 1, 5, 40), Is.EqualTo((float)Math.Sin(2.0)));
    }

    [Test]
    public void WindowOrderPutsEachTokenAtItsWindowRow()
    {
        // Tag each grid token with its (f, r, c) and check where it lands.
        const int frames = 2, rows = 4, cols = 6, d = 3;
        var win = new WindowSize(1, 2, 3);
        var grid = new float[frames * rows * cols * d];
        for (int f = 0; f < frames; f++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    long i = ((f * rows + r) * cols + c) * d;
                    grid[i] = f; grid[i + 1] = r; grid[i + 2] = c;
                }
        var w = PtDitEmbeddings.ToWindowOrder(grid, frames, rows, cols, d, win);
        // Window p = (f·2 + r/2)·2 + c/3, in-window n = (r%2)·3 + c%3.
        (int f, int r, int c)[] probes = [(0, 0, 0), (0, 1, 4), (1, 3, 5), (1, 2, 1)];
        foreach (var (f, r, c) in probes)
        {
            int p = (f * 2 + r / 2) * 2 + c / 3, n = (r % 2) * 3 + c % 3;
            Assert.That(w.AsSpan((p * 6 + n) * d, d).ToArray(), Is.EqualTo(new float[] { f, r, c }), $"token ({f},{r},{c})");
        }
    }
}
