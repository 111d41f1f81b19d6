using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// latent_rgb (Engine/Kernels/LatentRgb.cs): the preview projection of latent channels to RGB.
public static partial class KernelTable
{
    public static KernelCase LatentRgb(int channels, int height, int width) =>
        new($"latent_rgb {channels}x{height}x{width}", channels * 1000 + height * 10 + width, KernelCase.ToleranceFor(DType.F32), (s, rng) =>
    {
        var latent = KernelInputs.Randn(rng, channels * height * width);
        var projection = KernelInputs.Randn(rng, 3 * (channels + 1), 0.3);
        Tensor L = s.F32(latent, channels, height, width), M = s.F32(projection, 3, channels + 1), Y = s.Empty(DType.F32, 3, height, width);
        return new(seq => Vulkan.Kernels.LatentRgb.Record(seq, L, M, Y), Y, () =>
        {
            int pixels = height * width;
            var want = new double[3 * pixels];
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < pixels; p++)
                {
                    double v = projection[c * (channels + 1) + channels];
                    for (int k = 0; k < channels; k++) v += (double)projection[c * (channels + 1) + k] * latent[k * pixels + p];
                    want[c * pixels + p] = v;
                }
            return want;
        });
    });
}
