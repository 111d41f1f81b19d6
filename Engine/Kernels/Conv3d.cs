using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Kernels;

/// <summary>
/// Causal 3-D convolution (Open-Sora-Plan's CausalConv3d: time padding by kt−1 copies of frame 0, zero spatial
/// padding, stride 1), in two forms:
/// <list type="bullet">
/// <item><see cref="RecordGemm(Sequence, Tensor, Tensor, Tensor, Tensor, Tensor, long, long?)"/>: the wide convolutions, channel-last in and out with Cin a multiple of 8, as an
/// implicit GEMM on the engine's <see cref="Gemm"/> kernels (gemm_texel/gemm_tiled with CONV: the patch matrix is
/// addressed in place, never built). Weights packed by <see cref="PackGemmWeight"/> into [Cout, kt, kh, kw, Cin].</item>
/// <item><see cref="Record"/>: the direct kernel Shaders/conv3d.comp for the narrow ends (post_quant_conv, conv_in with
/// 4 input channels, conv_out with 3 outputs): either layout, channel-last [B, T, H, W, C] or channel-first
/// [B, C, T, H, W]. Weights packed by <see cref="PackWeight"/> into [kt, kh, kw, Cin, Cout4] (Cout padded to 4).</item>
/// </list>
/// <see cref="FoldTime"/> sums the time taps for output frames that see only frame 0 (every frame of an image).
/// </summary>
public static class Conv3d
{
    const string Op = "conv3d";
    const uint Workgroup = 64;
    /// <summary>Sizes, then the element strides (b, t, h, w, c) of x and of y, then the divisor of x.</summary>
    readonly record struct Push(uint Positions, uint T, uint H, uint W, uint Cin, uint Cout, uint Groups, uint Kt, uint Kh, uint Kw, uint Pad,
        Strides X, Strides Y, float InDiv);
    readonly record struct Strides(uint B, uint T, uint H, uint W, uint C);
    readonly record struct Spec(uint WorkgroupSize, Bool32 Divide, Bool32 Residual);
    static readonly KernelDef<Push, Spec> Def = new(Op, Access.ReadTexel, Access.ReadTexel, Access.Read, Access.Read, Access.Write);

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

    /// <summary>A checkpoint weight [Cout, Cin, kt, kh, kw] as the GEMM's w rows: [Cout, kt, kh, kw, Cin] f32.</summary>
    public static HostTensor PackGemmWeight(HostTensor weight)
    {
        if (weight.Shape.Length != 5) throw new ArgumentException($"{Op}: weight must be [Cout, Cin, kt, kh, kw], got {weight}");
        long cout = weight.Shape[0], cin = weight.Shape[1], taps = weight.Shape[2] * weight.Shape[3] * weight.Shape[4];
        var w = weight.ToFloat32();
        var packed = new float[cout * taps * cin];
        for (long co = 0; co < cout; co++)
            for (long ci = 0; ci < cin; ci++)
                for (long k = 0; k < taps; k++)
                    packed[(co * taps + k) * cin + ci] = w[(co * cin + ci) * taps + k];
        return HostTensor.FromFloat32(packed, cout, weight.Shape[2], weight.Shape[3], weight.Shape[4], cin);
    }

    /// <summary>
    /// A checkpoint weight [Cout, Cin, kt, kh, kw] with its time taps summed: [Cout, Cin, 1, kh, kw]. An output frame
    /// whose kt time taps all read frame 0 (frame 0 of every causal conv: the padding replicates it) equals the
    /// convolution of frame 0 with this kernel, at a kt-th of the work. Sums run in double and round once, so the
    /// folded result differs from the unfolded one only by float rounding of the (shorter) accumulation.
    /// </summary>
    public static HostTensor FoldTime(HostTensor weight)
    {
        if (weight.Shape.Length != 5) throw new ArgumentException($"{Op}: weight must be [Cout, Cin, kt, kh, kw], got {weight}");
        long outer = weight.Shape[0] * weight.Shape[1], kt = weight.Shape[2], area = weight.Shape[3] * weight.Shape[4];
        var w = weight.ToFloat32();
        var folded = new float[outer * area];
        for (long o = 0; o < outer; o++)
            for (long s = 0; s < area; s++)
            {
                double sum = 0;
                for (long dt = 0; dt < kt; dt++) sum += w[(o * kt + dt) * area + s];
                folded[o * area + s] = (float)sum;
            }
        return HostTensor.FromFloat32(folded, weight.Shape[0], weight.Shape[1], 1, weight.Shape[3], weight.Shape[4]);
    }

    /// <summary>
    /// Records y = conv(x) + bias (+ residual) as an implicit GEMM: x [B, T, H, W, Cin] and y, residual
    /// [B, T, H, W, Cout] channel-last f32; w [Cout, kt, kh, kw, Cin] from <see cref="PackGemmWeight"/>; bias [Cout] f32.
    /// Spatial padding kh / 2. y and residual may exceed one binding (split by rows); x is read through one view.
    /// Only output frames [firstFrame, firstFrame + frames) of every sample are computed (null: all), so frame 0 of a
    /// video can run with the folded kernel (<see cref="FoldTime"/>) and the others with the full one.
    /// </summary>
    public static void RecordGemm(Sequence seq, Tensor x, Tensor w, Tensor bias, Tensor y, Tensor? residual = null, long firstFrame = 0, long? frames = null)
        => RecordGemm(seq, x, w, bias, y, residual, firstFrame, frames, default);

    /// <summary>As RecordGemm, with the GEMM's overrides given (tests).</summary>
    internal static void RecordGemm(Sequence seq, Tensor x, Tensor w, Tensor bias, Tensor y, Tensor? residual, long firstFrame, long? frames, Gemm.Overrides overrides)
    {
        KernelChecks.F32(Op, "x", x);
        KernelChecks.F32(Op, "w", w);
        KernelChecks.F32(Op, "y", y);
        if (w.Rank != 5) throw new ArgumentException($"{Op}: GEMM weight must be [Cout, kt, kh, kw, Cin], got {w}");
        long cout = w.Shape[0], kt = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3], cin = w.Shape[4];
        if (kh != kw || kh % 2 != 1) throw new ArgumentException($"{Op}: spatial kernel must be square and odd, got {w}");
        if (x.Rank != 5 || x.Shape.Any(d => d < 1)) throw new ArgumentException($"{Op}: x must be [B, T, H, W, C] with every axis at least 1, got {x}");
        long b = x.Shape[0], t = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        if (x.Shape[4] != cin) throw new ArgumentException($"{Op}: x {x} has {x.Shape[4]} channels, w {w} expects {cin}");
        KernelChecks.Shape(Op, "bias", bias, cout);
        KernelChecks.Shape(Op, "y", y, b, t, h, wd, cout);
        if (residual is not null) { KernelChecks.F32(Op, "residual", residual); KernelChecks.Shape(Op, "residual", residual, y.Shape); }
        KernelChecks.Fits32(Op, "x", x.Elements);
        KernelChecks.Fits32(Op, "y", y.Elements);
        long count = frames ?? t - firstFrame;
        if (firstFrame < 0 || count < 0 || firstFrame + count > t)
            throw new ArgumentException($"{Op}: frames [{firstFrame}, {firstFrame + count}) lie outside the {t} frames of y {y}");
        long positions = b * t * h * wd, frame = h * wd;
        var geometry = new Gemm.ConvGeometry(t, h, wd, cin, kt, kh, kw, kh / 2);
        // All frames: one GEMM over every position; a frame range: one per sample (its rows are contiguous there).
        IEnumerable<(long first, long rows)> ranges = count == t
            ? [(0L, positions)]
            : Enumerable.Range(0, (int)b).Select(n => ((n * t + firstFrame) * frame, count * frame));
        foreach (var (first, rows) in ranges)
            Gemm.RecordConv(seq, x, geometry, w.Reshape(cout, kt * kh * kw * cin), bias, y.Reshape(positions, cout), residual?.Reshape(positions, cout), first, rows, overrides);
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
            throw new ArgumentException($"{Op}: y {y} is larger than this device's {info.MaxStorageBufferRange} bytes per binding (the direct kernel serves the narrow convolutions and does not split its output)");
        ulong align = info.OffsetAlignment;
        foreach (var (name, tensor, texels) in new[] { ("x", x, x.Elements), ("w", w, w.Elements / 4) })
        {
            if (texels > info.MaxTexelBufferElements)
                throw new ArgumentException($"{Op}: {name} {tensor} has more than this device's {info.MaxTexelBufferElements} texels per view");
            if (tensor.Offset % align != 0)
                throw new ArgumentException($"{Op}: {name} starts at byte {tensor.Offset}, not a multiple of this device's texel-buffer offset alignment ({align})");
        }
        long positions = b * t * h * wd, groups = cout4 / 4;
        KernelChecks.Fits32(Op, "y", positions * groups * 4);
        var xs = StridesOf(xChannelFirst, t, h, wd, cin);
        var ys = StridesOf(yChannelFirst, t, h, wd, cout);
        var push = checked(new Push((uint)positions, (uint)t, (uint)h, (uint)wd, (uint)cin, (uint)cout, (uint)groups,
            (uint)kt, (uint)kh, (uint)kw, (uint)(kh / 2), xs, ys, inDiv));
        var kernel = Def.Get(seq.Gpu, new Spec(Workgroup, inDiv != 1f, residual is not null));
        var (gx, gy) = Grid.Split(positions * groups, Workgroup);
        seq.Dispatch(kernel, [Arg.Texel(x, Silk.NET.Vulkan.Format.R32Sfloat), Arg.Texel(w, Silk.NET.Vulkan.Format.R32G32B32A32Sfloat), bias, residual ?? y, y], push, gx, gy, label: $"conv3d {cin}->{cout} {kt}x{kh}x{kw} {t}x{h}x{wd}");
    }

    /// <summary>Element strides (b, t, h, w, c) of a channel-first or channel-last volume.</summary>
    static Strides StridesOf(bool channelFirst, long t, long h, long w, long c) => checked(channelFirst
        ? new Strides((uint)(c * t * h * w), (uint)(h * w), (uint)w, 1, (uint)(t * h * w))
        : new Strides((uint)(t * h * w * c), (uint)(h * w * c), (uint)(w * c), (uint)c, 1));
}
