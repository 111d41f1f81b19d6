using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Presentation;

namespace T2X.Tests.Presentation;

public sealed class FrameMailboxTests : GpuTest
{
    static readonly GenerationSettings Settings = new() { Prompt = "p", Steps = 2, Width = 5, Height = 3 };

    static float[] Random(int seed, int n) => Check.Randn(new Random(seed), n);

    /// <summary>What the window would show: a host copy of the mailbox's image, marking it shown.</summary>
    static (float[] Pixels, FrameInfo Info, bool Fresh)? Show(FrameMailbox box, bool redraw = false)
    {
        (float[], FrameInfo, bool)? seen = null;
        box.ShowNewest((image, info, fresh) => { seen = (Planes(image.ToArray()), info, fresh); return true; }, redraw);
        return seen;
    }

    /// <summary>RGBA texels [P, 4] back to planes [3, P], checking the alpha of 1.</summary>
    static float[] Planes(float[] rgba)
    {
        int pixels = rgba.Length / 4;
        var planes = new float[3 * pixels];
        for (int p = 0; p < pixels; p++)
        {
            for (int c = 0; c < 3; c++) planes[c * pixels + p] = rgba[4 * p + c];
            Assert.That(rgba[4 * p + 3], Is.EqualTo(1f), "alpha");
        }
        return planes;
    }

    [Test]
    public void PublishCopiesTheFrameSoTheSourceMayOverwriteIt()
    {
        // Nobody shows frames here: each publish gives up waiting after MaxWait.
        using var box = new FrameMailbox(Gpu, () => { }, () => { }) { MaxWait = TimeSpan.FromMilliseconds(20) };
        var a = Random(1, 3 * 3 * 5);
        var source = Tensor.FromArray(Gpu, a, 3, 3, 5);
        box.Publish(new Frame(source, 1, 2, 0.5, false), 7, Settings, CancellationToken.None);
        source.Upload(Random(2, a.Length));

        var shown = Show(box);
        Assert.That(shown, Is.Not.Null);
        Assert.That(shown!.Value.Pixels, Is.EqualTo(a));
        Assert.That(shown.Value.Info, Is.EqualTo(new FrameInfo(7, Settings, 1, 2, 0.5, false)));
        Assert.That(shown.Value.Fresh, Is.True);
        Assert.That(Show(box), Is.Null, "nothing new to show");
        Assert.That(Show(box, redraw: true)!.Value.Fresh, Is.False, "a redraw shows the same frame again");
        Assert.That(box.Final, Is.Null, "a preview is not a final image");
        source.Buffer.Dispose();
    }

    [Test]
    public void PublishReturnsOnceTheFrameWasShown()
    {
        int readerWaits = 0;
        using var box = new FrameMailbox(Gpu, () => { }, () => Interlocked.Increment(ref readerWaits)) { MaxWait = TimeSpan.FromSeconds(60) };
        var first = Tensor.FromArray(Gpu, Random(3, 45), 3, 3, 5);
        var second = Tensor.FromArray(Gpu, Random(4, 3 * 4 * 6), 3, 4, 6);   // another size: the mailbox reallocates
        var publishing = Task.Run(() => box.Publish(new Frame(first, 1, 2, 0, false), 1, Settings, CancellationToken.None));
        Assert.That(publishing.Wait(300), Is.False, "publish waits until the window has shown the frame");
        (float[] Pixels, FrameInfo Info, bool Fresh)? shown = null;
        while (shown is null && !publishing.IsCompleted) shown = Show(box);
        Assert.That(shown!.Value.Pixels, Is.EqualTo(first.ToArray()));
        Assert.That(publishing.Wait(TimeSpan.FromSeconds(30)), Is.True, "showing the frame lets the sampler go on");

        publishing = Task.Run(() => box.Publish(new Frame(second, 2, 2, 0, true), 1, Settings, CancellationToken.None));
        shown = null;
        while (shown is null && !publishing.IsCompleted) shown = Show(box);
        Assert.That(publishing.Wait(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(shown!.Value.Pixels, Is.EqualTo(second.ToArray()));
        Assert.That(shown.Value.Info.IsFinal, Is.True);
        Assert.That(box.Final!.Value.Pixels, Is.EqualTo(second.ToArray()), "the final image is kept on the host for saving");
        Assert.That(box.Dropped, Is.EqualTo(0));
        Assert.That(readerWaits, Is.EqualTo(2), "each publish first waits until the device stopped reading the shown frame");
        first.Buffer.Dispose();
        second.Buffer.Dispose();
    }

    [Test]
    public void WhilePausedFramesReplaceEachOtherAndCountAsDropped()
    {
        using var box = new FrameMailbox(Gpu, () => { }, () => { }) { MaxWait = TimeSpan.FromSeconds(60) };
        box.Paused = true;
        var t = Tensor.FromArray(Gpu, Random(5, 45), 3, 3, 5);
        for (int step = 1; step <= 3; step++)
            box.Publish(new Frame(t, step, 3, 0, false), 1, Settings, CancellationToken.None);
        Assert.That(box.Dropped, Is.EqualTo(2));
        Assert.That(Show(box)!.Value.Info.Step, Is.EqualTo(3), "the newest frame is shown on restore");
        t.Buffer.Dispose();
    }

    [Test]
    public void CancellingAWaitingPublishThrows()
    {
        using var box = new FrameMailbox(Gpu, () => { }, () => { }) { MaxWait = TimeSpan.FromSeconds(60) };
        var t = Tensor.FromArray(Gpu, Random(6, 45), 3, 3, 5);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        Assert.Throws<OperationCanceledException>(() => box.Publish(new Frame(t, 1, 2, 0, false), 1, Settings, cancel.Token));
        Assert.That(Show(box)!.Value.Info.Step, Is.EqualTo(1), "the frame was published before the wait was cancelled");
        t.Buffer.Dispose();
    }

    [Test]
    public void RejectsImagesThatAreNotRgbPlanes()
    {
        using var box = new FrameMailbox(Gpu, () => { }, () => { });
        var t = Tensor.Create(Gpu, DType.F32, 4, 3, 5);
        var e = Assert.Throws<ArgumentException>(() => box.Publish(new Frame(t, 1, 1, 0, false), 1, Settings, CancellationToken.None))!;
        Assert.That(e.Message, Does.Contain("[3, H, W]"));
        t.Buffer.Dispose();
    }
}
