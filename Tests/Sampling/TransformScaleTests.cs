using NUnit.Framework;
using T2X.Vulkan.Sampling;

namespace T2X.Tests.Sampling;

public sealed class TransformScaleTests
{
    /// <summary>RFlow's transform_scale multiplies the shift ratio: at 64×64 with scale 32, r = 0.125·32 = 4 and
    /// t' = T·4u/(1 + 3u).</summary>
    [Test]
    public void ScalesTheShiftRatio()
    {
        var s = new RectifiedFlowSchedule(new SamplerOptions { Steps = 20, TransformScale = 32 }, 64, 64);
        Assert.That(s.Ratio, Is.EqualTo(4f));
        for (int i = 0; i < s.Steps; i++)
        {
            double u = s.RawTimes[i] / 1000.0;
            Assert.That(s.Times[i], Is.EqualTo(1000 * 4 * u / (1 + 3 * u)).Within(1e-3), $"step {i}");
        }
        Assert.That(new RectifiedFlowSchedule(new SamplerOptions { Steps = 20 }, 64, 64).Ratio, Is.EqualTo(0.125f));
    }
}
