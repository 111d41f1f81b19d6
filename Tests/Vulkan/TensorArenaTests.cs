using NUnit.Framework;
using T2X.Vulkan;

namespace T2X.Tests.Vulkan;

public sealed class TensorArenaTests : GpuTest
{
    /// <summary>Odd sizes (not multiples of the alignment), an i32 tensor and a host-visible one.</summary>
    static (Tensor A, Tensor B, Tensor Ids, Tensor Step) Allocate(TensorArena arena) =>
        (arena.F32(3, 5), arena.F32(7, 11, 2), arena.New(DType.I32, 13), arena.NewHostVisible(DType.F32, 1));

    [Test]
    public void MeasuringAllocatesNothingAndCountsWhatAllocatingTakes()
    {
        long before = Gpu.AllocatedBytes;
        var measuring = TensorArena.Measuring(Gpu);
        var shapes = Allocate(measuring);
        Assert.That(measuring.IsMeasuring, Is.True);
        Assert.That(Gpu.AllocatedBytes, Is.EqualTo(before), "a measuring arena allocates nothing");
        Assert.That(shapes.B.Shape, Is.EqualTo(new long[] { 7, 11, 2 }));
        // Device pool: 60 bytes, then 616 at offset 256, then 52 at offset 1024, rounded up to 1280; host-visible pool:
        // 4 bytes, rounded up to 256.
        Assert.That((measuring.Bytes, measuring.Tensors, measuring.Buffers), Is.EqualTo((1280L + 256, 4, 2)));

        using (var arena = TensorArena.Allocate(Gpu, Allocate, out var t))
        {
            Assert.That(arena.Bytes, Is.EqualTo(measuring.Bytes));
            Assert.That(Gpu.AllocatedBytes - before, Is.InRange(arena.Bytes, arena.Bytes + 2 * 4096), "two buffers (lavapipe: exactly; other drivers may round further)");
            Assert.That(t.B.Buffer, Is.SameAs(t.A.Buffer), "one device buffer");
            Assert.That((t.A.Offset, t.B.Offset, t.Ids.Offset), Is.EqualTo((0ul, 256ul, 1024ul)));
            Assert.That(t.Step.Buffer, Is.Not.SameAs(t.A.Buffer));
            Assert.That(t.Step.Buffer.IsMapped, Is.True, "host-visible");
            // Tensors keep their own bytes: write each, read each back.
            var a = Enumerable.Range(0, 15).Select(i => (float)i).ToArray();
            var b = Enumerable.Range(0, 154).Select(i => -(float)i).ToArray();
            t.A.Upload(a);
            t.B.Upload(b);
            Assert.That((t.A.ToArray(), t.B.ToArray()), Is.EqualTo((a, b)));
        }
        Assert.That(Gpu.AllocatedBytes, Is.EqualTo(before), "freed together");
        Assert.That(TensorArena.MeasureBytes(a => Allocate(a)), Is.EqualTo(measuring.Bytes), "no device needed to measure");
    }

    [Test]
    public void AskingForOtherTensorsThanMeasuredFails()
    {
        int calls = 0;
        var ex = Assert.Throws<InvalidOperationException>(() =>
            TensorArena.Allocate(Gpu, arena => calls++ == 0 ? arena.F32(4) : arena.F32(1000), out _))!;
        Assert.That(ex.Message, Does.Contain("other tensors than were measured"));
    }
}
