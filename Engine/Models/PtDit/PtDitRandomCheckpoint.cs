using T2X.Vulkan.Sampling;
using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Models.PtDit;

/// <summary>What a random checkpoint stores for the position-table buffer pos_embed.pos_embed.</summary>
public enum PositionBuffer { Absent, Random }

/// <summary>
/// A checkpoint of the official key layout where EVERY tensor is random (the official init zeroes linear_1_visual and
/// linear_2, which would hide bugs), for tests and benchmarks. Weights ~ N(0, 1/fan_in), biases and modulation tables
/// ~ N(0, 0.02..0.5²) so activations stay of order 1 through many blocks. Deterministic for a seed on every machine.
/// </summary>
public static class PtDitRandomCheckpoint
{
    public static Dictionary<string, HostTensor> Create(PtDitConfig config, ulong seed, DType dtype = DType.F32,
        PositionBuffer buffer = PositionBuffer.Absent)
    {
        var result = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        var keys = PtDitKeys.Expected(config);
        for (int index = 0; index < keys.Count; index++)
        {
            var (name, shape) = keys[index];
            ulong stream = seed * 1000003 + (ulong)index;   // one stream per key: a tensor does not depend on which others exist
            long n = 1;
            foreach (var d in shape) n *= d;
            float[] values;
            if (name == PtDitKeys.PosEmbedBuffer)
            {
                if (buffer == PositionBuffer.Absent) continue;
                values = GaussianNoise.Generate(stream, n);
            }
            else
            {
                double scale = name.EndsWith(".weight") ? 1 / Math.Sqrt(shape[1] * (shape.Length == 4 ? shape[2] * shape[3] : 1))
                    : name.EndsWith("scale_shift_table") ? 0.5
                    : 0.1;
                values = GaussianNoise.Generate(stream, n);
                for (long i = 0; i < n; i++) values[i] = (float)(values[i] * scale);
            }
            result[name] = HostTensor.FromFloat32(values, shape).To(dtype);
        }
        return result;
    }
}
