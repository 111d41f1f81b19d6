using NUnit.Framework;
using T2X.Benchmarks;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>The tile cross-fade and the window copy that join decoded VAE tiles, against plain loops in double.</summary>
public sealed class TileBlendTests : GpuTest
{
    static IEnumerable<TestCaseData> Blends() => KernelTable.TileBlends.Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    /// <summary>The blend writes b's plane only: the elements before it in its buffer stay 0 (its values are checked
    /// by the kernel table's rows).</summary>
    [TestCaseSource(nameof(Blends))]
    public void BlendLeavesTheElementsBeforeThePlane(KernelCase c)
    {
        using var s = new Scratch(Gpu);
        var run = c.Make(s);
        Run(run.Record);
        var before = new Tensor(run.Output.Buffer, 0, DType.F32, (long)run.Output.Offset / sizeof(float));
        Assert.That(before.ToArray(), Is.EqualTo(new float[before.Elements]), "elements before the plane untouched");
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
        var S = s.F32(KernelTable.Padded(src, 1), sh * sw + 1).Reshape(1, sh * sw + 1);
        var D = s.F32(KernelTable.Padded(dst, 2), dh * dw + 2).Reshape(1, dh * dw + 2);
        var dPlane = KernelTable.PlaneAt(D, 2, dh, dw);
        Run(seq => CopyWindow.Record(seq, KernelTable.PlaneAt(S, 1, sh, sw), dPlane, y0, x0, h, w));
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
}
