using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// present_pack (Engine/Kernels/PresentPack.cs): RGB planes [3, h, w] interleaved into RGBA pixels with alpha 1.
public static partial class KernelTable
{
    public static KernelCase PresentPack(int height, int width) =>
        new($"present_pack {height}x{width}", height * width, KernelCase.Exact, (s, rng) =>
    {
        int pixels = height * width;
        var planes = KernelInputs.Randn(rng, 3 * pixels);
        Tensor X = s.F32(planes, 3, height, width), Y = s.Empty(DType.F32, height, width, 4);
        return new(seq => Vulkan.Kernels.PresentPack.Record(seq, X, Y), Y, () =>
        {
            var want = new double[4 * pixels];
            for (int p = 0; p < pixels; p++)
            {
                for (int c = 0; c < 3; c++) want[4 * p + c] = planes[c * pixels + p];
                want[4 * p + 3] = 1;
            }
            return want;
        });
    });
}
