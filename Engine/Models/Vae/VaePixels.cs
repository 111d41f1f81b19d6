using T2X.Vulkan.Imaging;

namespace T2X.Vulkan.Models.Vae;

/// <summary>The pipeline's conversion of a decoded sample to bytes (MMPipeline.decode_latents, docs/vae.md §8).</summary>
public static class VaePixels
{
    /// <summary>sample [B, 3, T, H, W] → pixels [B, T, H, W, 3]: clamp to [−1, 1], round half up of (x + 1)/2·255
    /// (<see cref="Rgb8.FromSigned"/>, exact arithmetic).</summary>
    public static byte[] ToUint8(VaeVolume sample)
    {
        if (sample.C != 3) throw new ArgumentException($"a sample has 3 channels (RGB), got [{string.Join(",", sample.Shape)}]");
        var px = new byte[sample.Data.LongLength];
        long i = 0;
        for (int b = 0; b < sample.B; b++)
            for (int t = 0; t < sample.T; t++)
                for (int y = 0; y < sample.H; y++)
                    for (int x = 0; x < sample.W; x++)
                        for (int c = 0; c < 3; c++)
                            px[i++] = Rgb8.FromSigned(sample[b, c, t, y, x]);
        return px;
    }
}
