using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>The tile cross-fade and the window copy that join decoded VAE tiles, against plain loops in double.</summary>
public sealed class TileBlendTests : GpuTest
{
    /// <summary>Planes placed at odd offsets inside larger buffers (not at 256-byte boundaries).</summary>
    [TestCase(5, 7, 3, 7, 3, false)]   // rows: a 5x7 above b 3x7, extent 3 (b's whole height)
    [TestCase(9, 4, 9, 6, 4, true)]    // columns: a 9x4 left of b 9x6, extent 4
    [TestCase(16, 16, 16, 16, 8, false)]
    [TestCase(6, 10, 6, 3, 1, true)]   // extent 1: b's first column takes a's last entirely
    public void BlendMatchesCpu(int ah, int aw, int bh, int bw, int e, bool columns)
    {
        var rng = new Random(ah * 100 + bw * 10 + e);
        var a = Check.Randn(rng, ah * aw);
        var b = Check.Randn(rng, bh * bw);
        var want = b.Select(v => (double)v).ToArray();
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++)
            {
                int d = columns ? x : y;
                if (d >= e) continue;
                double av = columns ? a[y * aw + aw - e + x] : a[(ah - e + y) * aw + x];
                want[y * bw + x] = av * (1 - d / (double)e) + b[y * bw + x] * (d / (double)e);
            }
        using var s = new Scratch(Gpu);
        var A = s.F32(Pad(a, 3), ah * aw + 3).Reshape(1, ah * aw + 3);
        var B = s.F32(Pad(b, 5), bh * bw + 5).Reshape(1, bh * bw + 5);
        var aPlane = At(A, 3, ah, aw);
        var bPlane = At(B, 5, bh, bw);
        Run(seq => TileBlend.Record(seq, aPlane, bPlane, e, columns));
        Check.Close(B.ToArray().AsSpan(5).ToArray(), want, 1e-6, "tile_blend");
        Assert.That(B.ToArray().AsSpan(0, 5).ToArray(), Is.EqualTo(new float[5]), "elements before the plane untouched");
    }

    [Test]
    public void CopyWindowMatchesCpu()
    {
        int sh = 7, sw = 9, dh = 12, dw = 13, h = 5, w = 6, y0 = 4, x0 = 7;
        var src = Check.Randn(new Random(3), sh * sw);
        var dst = Check.Randn(new Random(4), dh * dw);
        var want = dst.Select(v => (double)v).ToArray();
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) want[(y0 + y) * dw + x0 + x] = src[y * sw + x];
        using var s = new Scratch(Gpu);
        var S = s.F32(Pad(src, 1), sh * sw + 1).Reshape(1, sh * sw + 1);
        var D = s.F32(Pad(dst, 2), dh * dw + 2).Reshape(1, dh * dw + 2);
        var dPlane = At(D, 2, dh, dw);
        Run(seq => CopyWindow.Record(seq, At(S, 1, sh, sw), dPlane, y0, x0, h, w));
        Check.Close(D.ToArray().AsSpan(2).ToArray(), want, 1e-7, "copy_window");
    }

    [Test]
    public void BadShapesAreNamed()
    {
        using var s = new Scratch(Gpu);
        var a = s.Empty(DType.F32, 4, 5);
        var b = s.Empty(DType.F32, 4, 6);
        using var seq = new Sequence(Gpu);
        Assert.That(Assert.Throws<ArgumentException>(() => TileBlend.Record(seq, a, b, 2, columns: false))!.Message, Does.Contain("equally wide"));
        Assert.That(Assert.Throws<ArgumentException>(() => TileBlend.Record(seq, a, b, 6, columns: true))!.Message, Does.Contain("extent 6"));
        Assert.That(Assert.Throws<ArgumentException>(() => CopyWindow.Record(seq, a, b, 1, 2, 4, 5))!.Message, Does.Contain("does not lie in dst"));
    }

    /// <summary>The values with <paramref name="before"/> zeros in front.</summary>
    static float[] Pad(float[] v, int before) => new float[before].Concat(v).ToArray();

    /// <summary>The [h, w] plane that starts <paramref name="skip"/> elements into a row tensor [1, n].</summary>
    static Tensor At(Tensor row, int skip, int h, int w) => row.Reshape(row.Elements).Reshape(row.Elements, 1).Slice(skip, (long)h * w).Reshape(h, w);
}
