namespace T2X.Vulkan.Models.Vae;

/// <summary>A host f32 volume [B, C, T, H, W] (latents or a decoded sample), row-major.</summary>
public sealed class VaeVolume
{
    public float[] Data { get; }
    public long[] Shape { get; }
    public int B => (int)Shape[0];
    public int C => (int)Shape[1];
    public int T => (int)Shape[2];
    public int H => (int)Shape[3];
    public int W => (int)Shape[4];

    public VaeVolume(float[] data, long[] shape)
    {
        if (shape.Length != 5) throw new ArgumentException($"a volume is [B, C, T, H, W], got [{string.Join(",", shape)}]");
        if (data.LongLength != shape.Aggregate(1L, (a, d) => a * d))
            throw new ArgumentException($"{data.LongLength} values do not fill [{string.Join(",", shape)}]");
        Data = data;
        Shape = shape;
    }

    public static VaeVolume Zeros(int b, int c, int t, int h, int w) => new(new float[(long)b * c * t * h * w], [b, c, t, h, w]);

    public long Index(int b, int c, int t, int y, int x) => ((((long)b * C + c) * T + t) * H + y) * W + x;

    public ref float this[int b, int c, int t, int y, int x] => ref Data[Index(b, c, t, y, x)];

    /// <summary>The sub-volume of frames [t0, t1), rows [y0, y1), columns [x0, x1).</summary>
    public VaeVolume Crop(int t0, int t1, int y0, int y1, int x0, int x1)
    {
        var r = Zeros(B, C, t1 - t0, y1 - y0, x1 - x0);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                for (int t = t0; t < t1; t++)
                    for (int y = y0; y < y1; y++)
                        Array.Copy(Data, Index(b, c, t, y, x0), r.Data, r.Index(b, c, t - t0, y - y0, 0), x1 - x0);
        return r;
    }
}
