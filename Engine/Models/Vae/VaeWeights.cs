using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Models.Vae;

/// <summary>
/// The VAE decoder's weights in the kernels' layouts: which checkpoint tensors become which device tensors (1x1x1
/// convolutions as GEMM matrices, the others packed for <see cref="Conv3d"/>, causal convolutions with time taps also
/// folded for frame 0, the mid attention's q, k, v fused), all f32, and the device bytes that takes.
/// </summary>
internal static class VaeWeights
{
    /// <summary>Device bytes the decoder's weights take once loaded (as <see cref="VaeDecoder.WeightBytes"/>), from the config alone:
    /// every tensor in its kernel layout, the folded time-tap copies included, each rounded up to the
    /// alignment DeviceWeights gives it (<see cref="DeviceInfo.MaxOffsetAlignment"/>) (an upper bound, exact up to the padding after a buffer's last tensor).</summary>
    public static long DeviceBytes(VaeConfig config) =>
        Tensors(config, null).Sum(t => (long)DeviceInfo.PackedBytes((ulong)(t.shape.Aggregate(1L, (x, y) => x * y) * DType.F32.Size())));

    /// <summary>The f32 tensors the decoder holds on the device: name, shape, how to read them from the checkpoint
    /// (<paramref name="source"/> null: shapes only, for <see cref="DeviceBytes"/>), and whether only the GEMM reads
    /// them as its w (so CPU devices may store them in <see cref="GemmPanels"/>; the fused q|k|v is sliced, so not it).</summary>
    internal static List<(string name, long[] shape, Func<HostTensor> read, bool gemmWeight)> Tensors(VaeConfig config, ITensorSource? source)
    {
        var uploads = new List<(string, long[], Func<HostTensor>, bool)>();
        void Add(string name, long[] shape, Func<HostTensor> read, bool gemmWeight = false) => uploads.Add((name, shape, read, gemmWeight));
        HostTensor Read(string name) => source!.Read(name);
        foreach (var (name, shape) in config.Keys())
        {
            if (!name.EndsWith(".conv.weight", StringComparison.Ordinal))
            {
                if (!name.EndsWith(".conv.bias", StringComparison.Ordinal)) Add(name, shape, () => Read(name).To(DType.F32));
                continue;
            }
            string p = name[..^".conv.weight".Length];
            if (p.StartsWith("decoder.mid.attn_1.", StringComparison.Ordinal)) continue;   // fused below
            long cout = shape[0], cin = shape[1];
            bool gemm = shape[2] * shape[3] * shape[4] == 1 && p != "post_quant_conv";
            if (gemm)
            {
                Add(p + ".w", [cout, cin], () => Reshape(Read(name).To(DType.F32), cout, cin), gemmWeight: true);
                Add(p + ".b", [cout], () => Read(p + ".conv.bias").To(DType.F32));
            }
            else
            {
                bool asGemm = AsGemm(p, cin);
                Func<HostTensor, HostTensor> pack = asGemm ? Conv3d.PackGemmWeight : Conv3d.PackWeight;
                long[] packedShape(long kt) => asGemm ? [cout, kt, shape[3], shape[4], cin] : [kt, shape[3], shape[4], cin, (cout + 3) / 4 * 4];
                Add(p + ".w", packedShape(shape[2]), () => pack(Read(name)), asGemm);
                // Causal convs with time taps also get their folded kernel, for images (all taps read frame 0).
                if (shape[2] > 1) Add(p + ".wf", packedShape(1), () => pack(Conv3d.FoldTime(Read(name))), asGemm);
                if (asGemm) Add(p + ".b", [cout], () => Read(p + ".conv.bias").To(DType.F32));
                else Add(p + ".b", [(cout + 3) / 4 * 4], () => Conv3d.PackBias(Read(p + ".conv.bias")));
            }
        }
        // Mid attention: q, k, v fused into one GEMM [3C, C]; proj_out a GEMM with the residual.
        const string a = "decoder.mid.attn_1";
        long c = config.Width(config.Levels - 1);
        Add(a + ".qkv.w", [3 * c, c], () => Concat(new[] { "q", "k", "v" }.Select(n => Read($"{a}.{n}.conv.weight")), 3 * c, c));
        Add(a + ".qkv.b", [3 * c], () => Concat(new[] { "q", "k", "v" }.Select(n => Read($"{a}.{n}.conv.bias")), 3 * c));
        Add(a + ".proj_out.w", [c, c], () => Reshape(Read(a + ".proj_out.conv.weight").To(DType.F32), c, c), gemmWeight: true);
        Add(a + ".proj_out.b", [c], () => Read(a + ".proj_out.conv.bias").To(DType.F32));
        return uploads;
    }

    static HostTensor Reshape(HostTensor t, params long[] shape) => new(t.DType, shape, t.Bytes);

    static HostTensor Concat(IEnumerable<HostTensor> parts, params long[] shape)
        => HostTensor.FromFloat32(parts.SelectMany(p => p.ToFloat32()).ToArray(), shape);

    /// <summary>The wide convolutions (channel-last, Cin a multiple of 8) run as implicit GEMMs; the narrow ends
    /// (post_quant_conv on channel-first latents, conv_in from the 4 latent channels, conv_out into 3 channel-first
    /// samples) on the direct kernel.</summary>
    internal static bool AsGemm(string p, long cin) => p is not ("post_quant_conv" or "decoder.conv_out") && cin % 8 == 0;
}
