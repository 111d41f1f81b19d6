namespace T2X.Vulkan.Imaging;

/// <summary>The one conversion from model output to pixels, shared by PNG saving and the viewer's shader.</summary>
public static class Rgb8
{
    /// <summary>One value in [-1, 1] (clamped) to a byte: round-half-up of (x + 1) / 2 · 255, as the official pipeline.</summary>
    public static byte FromSigned(float x) => (byte)Math.Floor((Math.Clamp((double)x, -1, 1) + 1) / 2 * 255 + 0.5);

    /// <summary>f32 planes [3, H, W] in [-1, 1] to interleaved RGB bytes [H, W, 3]; a NaN or infinity (broken weights or
    /// settings) is an error, never a black pixel.</summary>
    public static byte[] FromPlanes(ReadOnlySpan<float> chw, int width, int height)
    {
        int plane = width * height;
        if (chw.Length != 3 * plane)
            throw new ArgumentException($"image has {chw.Length} values, expected 3x{height}x{width} = {3 * plane}");
        Finite.Require(chw, "the generated image (no file written: are the model's weights or settings broken?)");
        var rgb = new byte[3 * plane];
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                rgb[3 * i + c] = FromSigned(chw[c * plane + i]);
        return rgb;
    }
}
