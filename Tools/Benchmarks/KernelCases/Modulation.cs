using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Benchmarks;

// modulation (Engine/Kernels/Modulation.cs): out[j, b] = table[j] + temb[b, chunk j] (one chunk: the same for every j).
public static partial class KernelTable
{
    public static KernelCase Modulation(int r, int chunks, int g, int d, DType dtype) =>
        new($"modulation R={r} chunks={chunks} G={g} D={d} {dtype}", r * 100 + d, 1e-6, (s, rng) =>
    {
        var table = HostTensor.FromFloat32(KernelInputs.Randn(rng, r * d), r, d).To(dtype);
        var temb = KernelInputs.Randn(rng, g * chunks * d);
        Tensor T = s.Upload(table), E = s.F32(temb, g, chunks * d), O = s.Empty(DType.F32, r, g, d);
        return new(seq => Vulkan.Kernels.Modulation.Record(seq, T, E, O), O, () =>
        {
            var tf = table.ToFloat32();
            var want = new double[r * g * d];
            for (int j = 0; j < r; j++)
                for (int b = 0; b < g; b++)
                    for (int c = 0; c < d; c++)
                        want[(j * g + b) * d + c] = (double)tf[j * d + c] + temb[b * chunks * d + (chunks == 1 ? 0 : j * d) + c];
            return want;
        });
    });
}
