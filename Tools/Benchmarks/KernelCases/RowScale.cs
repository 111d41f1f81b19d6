using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

// row_scale (Engine/Kernels/RowScale.cs): the block's gates, y[m] = x[m] · gate[(m / rowDiv) mod groups].
public static partial class KernelTable
{
    /// <summary>maxBindingBytes = 0: the device's binding limit; a small one forces the chunked path.</summary>
    public static KernelCase RowScale(int rows, int d, int rowDiv, int groups, int maxBindingBytes = 0) =>
        new($"row_scale {rows}x{d} rowDiv={rowDiv} groups={groups}{SmallBindings.Describe(maxBindingBytes)}",
            rows * d + rowDiv, 1e-7, (s, rng) =>
    {
        var x = KernelInputs.Randn(rng, (long)rows * d);
        var g = KernelInputs.Randn(rng, groups * d);
        Tensor X = s.F32(x, rows, d), G = s.F32(g, groups, d), Y = s.Empty(DType.F32, rows, d);
        return new(seq => Vulkan.Kernels.RowScale.Record(seq, X, G, Y, rowDiv, SmallBindings.OrDevice(seq.Gpu, maxBindingBytes)), Y, () =>
        {
            var want = new double[x.Length];
            for (long m = 0; m < rows; m++)
                for (int c = 0; c < d; c++)
                    want[m * d + c] = (double)x[m * d + c] * g[(m / rowDiv % groups) * d + c];
            return want;
        });
    });
}
