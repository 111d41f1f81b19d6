using T2X.Vulkan;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Benchmarks;

// embedding (Engine/Kernels/Embedding.cs): T5's token lookup, rows of an f32, f16 or bf16 table copied exactly.
public static partial class KernelTable
{
    /// <summary>maxTexels = 0: the device limit (one view); small values force the split over several views.</summary>
    public static KernelCase Embedding(int vocab, int d, DType dtype, int batch, int len, long maxTexels = 0) =>
        new($"embedding vocab={vocab} D={d} {dtype} {batch}x{len}{(maxTexels == 0 ? "" : $" views of {maxTexels} texels")}",
            vocab + d + len, KernelCase.Exact, (s, rng) =>
    {
        var table = HostTensor.FromFloat32(KernelInputs.Randn(rng, (long)vocab * d), vocab, d).To(dtype);
        var ids = new int[batch * len];
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(vocab);
        ids[0] = vocab - 1;
        ids[^1] = 0;
        Vulkan.Kernels.Embedding.CheckIds(ids, vocab);
        Tensor I = s.I32(ids, batch, len), T = s.Upload(table), Y = s.Empty(DType.F32, batch, len, d);
        return new(seq =>
        {
            if (maxTexels == 0) Vulkan.Kernels.Embedding.Record(seq, I, T, Y);
            else Vulkan.Kernels.Embedding.Record(seq, I, T, Y, maxTexels);
        }, Y, () =>
        {
            var tf = table.ToFloat32();
            var want = new double[Y.Elements];
            for (int t = 0; t < ids.Length; t++)
                for (int c = 0; c < d; c++) want[(long)t * d + c] = tf[(long)ids[t] * d + c];
            return want;
        });
    });
}
