using NUnit.Framework;
using T2X.Vulkan;

namespace T2X.Tests;

/// <summary>One device for the whole test run, opened with the Khronos validation layer on.</summary>
[SetUpFixture]
public sealed class GpuSetup
{
    static Gpu? _gpu;
    static readonly object Lock = new();

    public static Gpu Gpu
    {
        get
        {
            lock (Lock) return _gpu ??= new Gpu(new GpuOptions { Validation = true });
        }
    }

    [OneTimeTearDown]
    public void Close()
    {
        _gpu?.Dispose();
        _gpu = null;
    }
}

/// <summary>Base of every test that touches the device: any validation message fails the test.</summary>
public abstract class GpuTest
{
    protected static Gpu Gpu => GpuSetup.Gpu;

    [SetUp]
    public void ClearMessages() => Gpu.ClearValidationMessages();

    [TearDown]
    public void NoValidationMessages()
    {
        var messages = Gpu.ValidationMessages;
        Gpu.ClearValidationMessages();
        Assert.That(messages, Is.Empty, "validation layer messages:\n" + string.Join("\n", messages));
    }

    /// <summary>Records, runs and disposes a sequence.</summary>
    protected static void Run(Action<Sequence> record)
    {
        using var seq = new Sequence(Gpu);
        record(seq);
        seq.Run();
    }
}
