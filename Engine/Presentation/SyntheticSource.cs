using System.Diagnostics;
using System.Text;
using T2X.Vulkan.Pipelines;

namespace T2X.Vulkan.Presentation;

/// <summary>
/// A stand-in for the text-to-image pipeline, for developing and testing the viewer: a deterministic picture
/// (colours and a disc chosen from the prompt, placed by the seed) that emerges from seeded noise over the
/// steps. Preview k of N is (1 - t)·noise + t·picture with t = k / (N + 1); the final image is the picture.
/// Frames are computed on the host and uploaded into one device tensor that every step overwrites.
/// </summary>
internal sealed class SyntheticSource(Gpu gpu, TimeSpan stepTime) : IFrameSource
{
    public Gpu Gpu => gpu;
    public string Model => "synthetic";
    public string ModelHash => "";

    public void Generate(GenerationSettings settings, Action<Frame> onFrame, CancellationToken cancel)
    {
        settings.Validated();
        using var buffer = new GpuBuffer(gpu, (ulong)(3L * settings.Height * settings.Width * sizeof(float)));
        var image = new Tensor(buffer, 0, DType.F32, 3, settings.Height, settings.Width);
        var clock = Stopwatch.StartNew();
        for (int step = 1; step <= settings.Steps; step++)
        {
            cancel.WaitHandle.WaitOne(stepTime);
            cancel.ThrowIfCancellationRequested();
            image.Upload(Preview(settings, step));
            double seconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            onFrame(new Frame(image, step, settings.Steps, seconds, IsFinal: false));
        }
        cancel.ThrowIfCancellationRequested();
        image.Upload(Final(settings));
        onFrame(new Frame(image, settings.Steps, settings.Steps, 0, IsFinal: true));
    }

    /// <summary>The preview after sampler step <paramref name="step"/> (1-based), f32 [3, H, W].</summary>
    public static float[] Preview(GenerationSettings s, int step)
    {
        var picture = Final(s);
        float t = step / (float)(s.Steps + 1);
        for (int i = 0; i < picture.Length; i++)
            picture[i] = (1 - t) * Noise(s.Seed, i) + t * picture[i];
        return picture;
    }

    /// <summary>The final image, f32 [3, H, W] in [-1, 1].</summary>
    public static float[] Final(GenerationSettings s)
    {
        int w = s.Width, h = s.Height;
        uint p = Fnv1a(Encoding.UTF8.GetBytes(s.Prompt));
        uint q = Mix((uint)s.Seed ^ Mix((uint)(s.Seed >> 32)));
        // Two corner colours from the prompt, a disc whose place and size come from the seed.
        double[] a = [Unit(p, 0), Unit(p, 1), Unit(p, 2)], b = [Unit(p, 3), Unit(p, 4), Unit(p, 5)];
        double cx = 0.25 + 0.5 * Unit(q, 0), cy = 0.25 + 0.5 * Unit(q, 1), r = 0.15 + 0.2 * Unit(q, 2);
        var image = new float[3 * h * w];
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            double u = (x + 0.5) / w, v = (y + 0.5) / h;
            double d = Math.Sqrt((u - cx) * (u - cx) + (v - cy) * (v - cy));
            double disc = Math.Clamp((r - d) * 40, 0, 1);   // soft edge, a few pixels wide
            for (int c = 0; c < 3; c++)
            {
                double background = a[c] + (b[c] - a[c]) * (0.5 * u + 0.5 * v);
                double value = background + (1 - 2 * background) * disc;   // the disc shows the inverted colour
                image[(c * h + y) * w + x] = (float)(2 * value - 1);
            }
        }
        return image;
    }

    static float Noise(long seed, int index) => Mix((uint)index * 0x9E3779B9u ^ (uint)seed ^ Mix((uint)(seed >> 32))) / (float)uint.MaxValue * 2 - 1;

    static double Unit(uint key, uint i) => Mix(key + i * 0x85EBCA6Bu) / (double)uint.MaxValue;

    /// <summary>A 32-bit integer hash (lowbias32): stable across runs and platforms, unlike string.GetHashCode.</summary>
    static uint Mix(uint x)
    {
        x ^= x >> 16; x *= 0x7feb352d;
        x ^= x >> 15; x *= 0x846ca68b;
        x ^= x >> 16;
        return x;
    }

    static uint Fnv1a(byte[] bytes)
    {
        uint h = 2166136261;
        foreach (var c in bytes) h = (h ^ c) * 16777619;
        return h;
    }
}
