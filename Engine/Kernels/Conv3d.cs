using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Kernels;

/// <summary>
/// Causal 3-D convolution (Open-Sora-Plan's CausalConv3d: time padding by kt−1 copies of frame 0, zero spatial
/// padding, stride 1) as an implicit GEMM. Shader: Shaders/conv3d.comp. Activations are f32 and either channel-last
/// [B, T, H, W, C] (the decoder's working layout) or channel-first [B, C, T, H, W] (latents in, samples out).
/// Weights are packed once by <see cref="PackWeight"/> and <see cref="PackBias"/> into [kt, kh, kw, Cin, Cout4] with Cout padded to a multiple of 4.
/// </summary>
public static class Conv3d
{
    const string Op = "conv3d";
    static readonly KernelLayout Layout = KernelLayout.Of(22 * 4, Access.ReadTexel, Access.ReadTexel, Access.Read, Access.Read, Access.Write);

    /// <summary>A checkpoint weight [Cout, Cin, kt, kh, kw] in the kernel's packed f32 layout [kt, kh, kw, Cin, Cout4].</summary>
    public static HostTensor PackWeight(HostTensor weight)
    {
        if (weight.Shape.Length != 5) throw new ArgumentException($"{Op}: weight must be [Cout, Cin, kt, kh, kw], got {weight}");
        long cout = weight.Shape[0], cin = weight.Shape[1], kt = weight.Shape[2], kh = weight.Shape[3], kw = weight.Shape[4];
        long cout4 = (cout + 3) / 4 * 4, taps = kt * kh * kw;
        var w = weight.ToFloat32();
        var packed = new float[taps * cin * cout4];
        for (long co = 0; co < cout; co++)
            for (long ci = 0; ci < cin; ci++)
                for (long k = 0; k < taps; k++)
                    packed[(k * cin + ci) * cout4 + co] = w[(co * cin + ci) * taps + k];
        return HostTensor.FromFloat32(packed, kt, kh, kw, cin, cout4);
    }

    /// <summary>A bias [Cout] padded with zeros to Cout4 (f32).</summary>
    public static HostTensor PackBias(HostTensor bias)
    {
        var b = new float[(bias.Elements + 3) / 4 * 4];
        bias.ToFloat32().CopyTo(b, 0);
        return HostTensor.FromFloat32(b, b.Length);
    }

    /// <summary>
    /// Records y = conv(x) (+ residual). w, bias: packed by PackWeight and PackBias; cout: the real output channels.
    /// The spatial padding is kh / 2 (kernels are 1 or 3 wide, as in the decoder). Each of x and y is channel-first
    /// when its flag says so; residual has y's shape. inDiv ≠ 1 divides x on load.
    /// </summary>
    public static void Record(Sequence seq, Tensor x, bool xChannelFirst, Tensor w, Tensor bias, long cout, Tensor y, bool yChannelFirst,
        Tensor? residual = null, float inDiv = 1f)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "w", w);
        KernelChecks.F32(Op, "bias", bias);
        KernelChecks.F32(Op, "y", y);
        if (w.Rank != 5) throw new ArgumentException($"{Op}: packed w must be [kt, kh, kw, Cin, Cout4], got {w}");
        long kt = w.Shape[0], kh = w.Shape[1], kw = w.Shape[2], cin = w.Shape[3], cout4 = w.Shape[4];
        if (kh != kw || kh % 2 != 1) throw new ArgumentException($"{Op}: spatial kernel must be square and odd, got {w}");
        if (cout < 1 || (cout + 3) / 4 * 4 != cout4) throw new ArgumentException($"{Op}: cout {cout} does not match packed w {w}");
        KernelChecks.Shape(Op, "bias", bias, cout4);
        if (x.Rank != 5) throw new ArgumentException($"{Op}: x must be 5-D, got {x}");
        var (b, t, h, wd, c) = xChannelFirst ? (x.Shape[0], x.Shape[2], x.Shape[3], x.Shape[4], x.Shape[1]) : (x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], x.Shape[4]);
        if (c != cin) throw new ArgumentException($"{Op}: x {x} has {c} channels, w {w} expects {cin}");
        long[] yShape = yChannelFirst ? [b, cout, t, h, wd] : [b, t, h, wd, cout];
        KernelChecks.Shape(Op, "y", y, yShape);
        if (residual is not null) { KernelChecks.F32(Op, "residual", residual); KernelChecks.Shape(Op, "residual", residual, yShape); }
        var info = seq.Gpu.Info;
        if (y.Bytes > info.MaxStorageBufferRange || residual is not null && residual.Bytes > info.MaxStorageBufferRange)
            throw new ArgumentException($"{Op}: y {y} is larger than this device's {info.MaxStorageBufferRange} bytes per binding; decode with tiling");
        ulong align = TexelViews.OffsetAlignment(seq.Gpu);
        foreach (var (name, tensor, texels) in new[] { ("x", x, x.Elements), ("w", w, w.Elements / 4) })
        {
            if (texels > info.MaxTexelBufferElements)
                throw new ArgumentException($"{Op}: {name} {tensor} has more than this device's {info.MaxTexelBufferElements} texels per view; decode with tiling");
            if (tensor.Offset % align != 0)
                throw new ArgumentException($"{Op}: {name} starts at byte {tensor.Offset}, not a multiple of this device's texel-buffer offset alignment ({align})");
        }
        long positions = b * t * h * wd, groups = cout4 / 4;
        KernelChecks.Fits32(Op, "y", positions * groups * 4);
        var xs = Strides(xChannelFirst, t, h, wd, cin);
        var ys = Strides(yChannelFirst, t, h, wd, cout);
        var push = new Push().UInt((ulong)positions).UInt((ulong)t).UInt((ulong)h).UInt((ulong)wd)
            .UInt((ulong)cin).UInt((ulong)cout).UInt((ulong)groups).UInt((ulong)kt).UInt((ulong)kh).UInt((ulong)kw).UInt((ulong)(kh / 2));
        foreach (var s in xs) push.UInt((ulong)s);
        foreach (var s in ys) push.UInt((ulong)s);
        push.Float(inDiv);
        var kernel = seq.Gpu.Kernel(Op, Layout, inDiv != 1f ? 1 : 0, residual is not null ? 1 : 0);
        var (gx, gy) = Grid.Split(positions * groups, 64);
        seq.Dispatch(kernel, [Arg.Texel(x, Silk.NET.Vulkan.Format.R32Sfloat), Arg.Texel(w, Silk.NET.Vulkan.Format.R32G32B32A32Sfloat), bias, residual ?? y, y], push, gx, gy, label: $"conv3d {cin}->{cout} {kt}x{kh}x{kw} {t}x{h}x{wd}");
    }

    /// <summary>Element strides (b, t, h, w, c) of a channel-first or channel-last volume.</summary>
    static long[] Strides(bool channelFirst, long t, long h, long w, long c) => channelFirst
        ? [c * t * h * w, h * w, w, 1, t * h * w]
        : [t * h * w * c, h * w * c, w * c, c, 1];
}
