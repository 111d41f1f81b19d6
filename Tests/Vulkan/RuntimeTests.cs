using NUnit.Framework;
using Silk.NET.Vulkan;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Vulkan;

public sealed class RuntimeTests : GpuTest
{
    [Test]
    public void ValidationLayerReportsMisuse()
    {
        Assert.That(Gpu.ValidationEnabled, Is.True);
        // A texel view whose range is not a multiple of the texel size is invalid usage.
        using var buffer = new GpuBuffer(Gpu, 1024);
        unsafe
        {
            var info = new BufferViewCreateInfo
            {
                SType = StructureType.BufferViewCreateInfo, Buffer = buffer.Handle, Format = Format.R32G32B32A32Sfloat, Offset = 0, Range = 20,
            };
            var r = Gpu.Vk.CreateBufferView(Gpu.Device, in info, null, out var view);
            if (r == Result.Success) Gpu.Vk.DestroyBufferView(Gpu.Device, view, null);
        }
        Assert.That(Gpu.ValidationMessages, Is.Not.Empty, "the validation layer should have reported the invalid view");
        Gpu.ClearValidationMessages();
    }

    [Test]
    public void ChoosesDeviceByIndexNameOrRank()
    {
        var infos = Gpu.ListDevices();
        Assert.That(infos, Is.Not.Empty);
        Assert.That(Gpu.Choose(infos, "0"), Is.EqualTo(0));
        Assert.That(Gpu.Choose(infos, infos[0].Name[..3].ToUpperInvariant()), Is.EqualTo(0));
        Assert.Throws<ArgumentException>(() => Gpu.Choose(infos, "99"));
        var ex = Assert.Throws<ArgumentException>(() => Gpu.Choose(infos, "no such device"))!;
        Assert.That(ex.Message, Does.Contain("no device matches"));
        var fake = new[]
        {
            infos[0] with { Index = 0, Type = PhysicalDeviceType.Cpu },
            infos[0] with { Index = 1, Type = PhysicalDeviceType.IntegratedGpu },
            infos[0] with { Index = 2, Type = PhysicalDeviceType.DiscreteGpu },
        };
        Assert.That(Gpu.Choose(fake, null), Is.EqualTo(2));
    }

    [Test]
    public void DependentDispatchesGetBarriersIndependentOnesDoNot()
    {
        const int n = 5000;
        var rng = new Random(1);
        var a = Tensor.FromArray(Gpu, Check.Randn(rng, n), n);
        var b = Tensor.FromArray(Gpu, Check.Randn(rng, n), n);
        var t = Tensor.Create(Gpu, DType.F32, n);
        var u = Tensor.Create(Gpu, DType.F32, n);
        var y = Tensor.Create(Gpu, DType.F32, n);
        using var seq = new Sequence(Gpu);
        Add.Record(seq, a, b, t);        // t = a + b
        Add.Record(seq, a, b, u, -1f);   // u = a - b: independent of t, no barrier
        Assert.That(seq.Barriers, Is.EqualTo(0));
        Add.Record(seq, t, u, y);        // y = t + u = 2a: reads both
        Assert.That(seq.Barriers, Is.EqualTo(1));
        Add.Record(seq, y, a, t);        // t = y + a = 3a: reads y, overwrites t (read earlier)
        Assert.That(seq.Barriers, Is.EqualTo(2));
        seq.Run();
        var av = a.ToArray();
        var got = t.ToArray();
        for (int i = 0; i < n; i++) Assert.That(got[i], Is.EqualTo(3 * av[i]).Within(1e-5 * (1 + Math.Abs(av[i]))));
        // Resubmitting the same recording gives the same result.
        seq.Run();
        Assert.That(t.ToArray(), Is.EqualTo(got));
        foreach (var x in new[] { a, b, t, u, y }) x.Buffer.Dispose();
    }

    [Test]
    public void TimestampsMeasureEveryDispatch()
    {
        const int n = 1 << 16;
        var a = Tensor.FromArray(Gpu, new float[n], n);
        using var seq = new Sequence(Gpu, profile: true);
        Add.Record(seq, a, a, a);
        seq.Run();
        var timings = seq.Timings();
        Assert.That(timings.Count, Is.EqualTo(1));
        Assert.That(timings[0].label, Is.EqualTo("add"));
        Assert.That(timings[0].ms, Is.GreaterThanOrEqualTo(0));
        a.Buffer.Dispose();
    }

    [Test]
    public void BindingLargerThanMaxStorageBufferRangeIsRefused()
    {
        ulong big = Gpu.Info.MaxStorageBufferRange + 16;
        using var buffer = new GpuBuffer(Gpu, big);
        var t = new Tensor(buffer, 0, DType.F32, (long)(big / 4));
        using var seq = new Sequence(Gpu);
        var ex = Assert.Throws<ArgumentException>(() => Add.Record(seq, t, t, t))!;
        Assert.That(ex.Message, Does.Contain("maxStorageBufferRange"));
    }

    [Test]
    public void SequencesRecordOnSeveralThreadsAtOnce()
    {
        // Each thread records, runs and frees its own sequences while the others do; the validation layer's thread
        // checks (on in the suite) would report a command pool used by two threads.
        const int n = 4096, threads = 4, rounds = 100;
        var rng = new Random(3);
        var a = Tensor.FromArray(Gpu, Check.Randn(rng, n), n);
        var ys = Enumerable.Range(0, threads).Select(_ => Tensor.Create(Gpu, DType.F32, n)).ToArray();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (int r = 0; r < rounds; r++)
            {
                using var seq = new Sequence(Gpu);
                Add.Record(seq, a, a, ys[t], t + r);   // y = (1 + t + r)·a
                seq.Run();
            }
        });
        var av = a.ToArray();
        for (int t = 0; t < threads; t++)
        {
            var got = ys[t].ToArray();
            for (int i = 0; i < n; i++) Assert.That(got[i], Is.EqualTo((1 + t + rounds - 1) * av[i]).Within(1e-4 * (1 + Math.Abs(av[i]))));
        }
        foreach (var x in ys.Append(a)) x.Buffer.Dispose();
    }

    [Test]
    public void OneShaderWithTwoLayoutsIsTwoPipelines()
    {
        var storage = KernelLayout.Of(8, Access.Read, Access.Read, Access.Write);
        var written = KernelLayout.Of(8, Access.Write, Access.Read, Access.Write);
        var a = Gpu.Kernel("add", storage);
        Assert.That(Gpu.Kernel("add", KernelLayout.Of(8, Access.Read, Access.Read, Access.Write)), Is.SameAs(a), "an equal layout is the cached pipeline");
        Assert.That(Gpu.Kernel("add", written).Layout, Is.SameAs(written), "another layout is another pipeline");
    }

    [Test]
    public void UploadDownloadRoundTrip()
    {
        var data = Enumerable.Range(0, 1000).Select(i => (float)i).ToArray();
        using var b = new GpuBuffer(Gpu, 8000);
        b.Upload<float>(data, 4000);
        var back = new float[1000];
        b.Download<float>(back, 4000);
        Assert.That(back, Is.EqualTo(data));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Upload<float>(data, 4004));
    }
}
