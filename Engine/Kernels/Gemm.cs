using Silk.NET.Vulkan;

namespace T2X.Vulkan.Kernels;

/// <summary>The activation applied to x·wᵀ + bias before the optional gated residual.</summary>
public enum Epilogue { None = ShaderConstants.EpiNone, Gelu = ShaderConstants.EpiGelu, Silu = ShaderConstants.EpiSilu }

/// <summary>
/// y[M,N] = epilogue(x[M,K]·w[N,K]ᵀ + bias[N]), optionally y = [residual +] g ⊙ (…) with g a row of a gate table.
/// Shaders: Shaders/gemm_texel.comp (CPU devices such as lavapipe: texel-buffer loads, no shared memory; docs/lavapipe.md §2) and
/// Shaders/gemm_tiled.comp (GPUs: shared-memory tiles), both ending in Shaders/include/gemm_common.glsl. The texel
/// variant also reads weights stored in <see cref="GemmPanels"/>, as model uploads give CPU devices.
/// Work that would exceed a binding's device limit (maxStorageBufferRange, maxTexelBufferElements) or 65535
/// workgroups per dimension is split into several dispatches over row and column chunks.
/// The same kernels also run convolutions as implicit GEMMs (<see cref="RecordConv"/>, used by <see cref="Conv3d.RecordGemm(Sequence, Tensor, Tensor, Tensor, Tensor, Tensor, long, long?)"/>):
/// x is then a channel-last volume whose patch matrix the shaders address in place (gemm_common.glsl conv_source).
/// </summary>
public static class Gemm
{
    /// <summary>The two kernel designs: Texel for CPU devices, Tiled (shared memory) for GPUs.</summary>
    public enum Variant { Texel, Tiled }

    /// <summary>What tests pass to reach paths a device would not take on its own; null fields leave the choice to
    /// the device. Variant forces a kernel design (lavapipe then runs the GPU one too), MaxBindingBytes lowers the
    /// per-binding byte limit (chunked dispatch on small tensors), MaxInvocations lowers maxComputeWorkGroupInvocations
    /// (the 128-invocation tiled layout), TexelRowGroups sets the texel variant's tile height in groups of 8 rows (1 to MaxTexelRowGroups;
    /// `t2x bench --texel-row-groups` times the heights against each other).</summary>
    internal readonly record struct Overrides(Variant? Variant = null, ulong? MaxBindingBytes = null, uint? MaxInvocations = null, int? TexelRowGroups = null);

    // Texel variant tiles: 8 lanes (one lavapipe subgroup), ROW_GROUPS·8 rows and COLS columns per lane. 24 rows: 14
    // texel loads (each a call on Mesa 25) per 768 lane-FMAs in f32, against 12 per 512 with 16 rows; more rows spill
    // more. Timed in turns in one process (docs/lavapipe.md §10.1), 24 rows matched or beat 16 at every PT-DiT shape.
    public const int TexelRowGroups = 3;
    /// <summary>The tallest texel tile <see cref="Overrides.TexelRowGroups"/> may ask for, in groups of 8 rows.</summary>
    public const int MaxTexelRowGroups = 8;
    internal const int TexelCols = 4;
    internal const int TexelLanes = 8;
    // The W panel that consecutive texel workgroups share (gemm_texel.comp N_GROUP): at most this many bytes, so that it
    // stays in a core's L2 (1 MiB and more on the CPUs lavapipe runs on) beside the streaming X rows.
    const long TexelPanelBytes = 448 * 1024;
    // Tiled variant: BM × BN tile, BK slice, TM × TN outputs per invocation.
    // 256 invocations (4 × 4 outputs each) where the device allows; Vulkan guarantees only 128, then 4 × 8 outputs each.
    const int TileM = 64, TileN = 64, TileK = 16, ThreadM = 4;

    static int TiledThreadN(DeviceInfo info, Overrides overrides) => (overrides.MaxInvocations ?? info.MaxWorkgroupInvocations) >= 256 ? 4 : 8;

    /// <summary>GemmParams of Shaders/include/gemm_common.glsl: the chunk (rows, columns, reduction, y's row stride, first
    /// row and column), the offsets of x, w, y, residual, bias and gate inside their bindings, the gate's row mapping,
    /// the flags, and the convolution geometry.</summary>
    readonly record struct Push(uint M, uint N, uint K, uint Ldy, uint M0, uint N0,
        uint XOffset, uint WOffset, uint YOffset, uint ResidualOffset, uint BiasOffset, uint GateOffset,
        uint GateRowDiv, uint GateRows, uint Flags, ConvPush Conv);
    readonly record struct ConvPush(uint T, uint H, uint W, uint Cin, uint Kt, uint Kh, uint Kw, uint Pad);
    readonly record struct TexelSpec(uint Lanes, uint RowGroups, uint Cols, uint WDType, Bool32 Conv, uint NGroup, Bool32 WPanels);
    readonly record struct TiledSpec(uint Threads, uint TileM, uint TileN, uint TileK, uint ThreadM, uint ThreadN, uint WDType, Bool32 Conv);
    static readonly KernelDef<Push, TexelSpec> TexelDef = new("gemm_texel",
        Access.ReadTexel, Access.ReadTexel, Access.Read, Access.ReadTexel, Access.ReadTexel, Access.Write);
    static readonly KernelDef<Push, TiledSpec> TiledDef = new("gemm_tiled",
        Access.Read, Access.Read, Access.Read, Access.Read, Access.Read, Access.Write);

    /// <summary>
    /// Records y = [residual +] g ⊙ epilogue(x·wᵀ + bias) where g = gate[(m / gateRowDiv) % G, :] for output row m
    /// (gate f32 [G, N]; null gate: g = 1; null residual: no sum).
    /// x, y, residual: f32 viewed as [Rows, last dim]; w: [N, K] in f32, f16 or bf16, row-major or, for the texel
    /// variant, in <see cref="GemmPanels"/>; bias: [N] in f32, f16 or bf16.
    /// residual may be y itself (in-place update). <paramref name="variant"/> forces a kernel design (null: the one
    /// <see cref="ChosenVariant"/> names), as the benchmarks do to measure both.
    /// </summary>
    public static void Record(Sequence seq, Tensor x, Tensor w, Tensor? bias, Tensor y,
        Epilogue epilogue = Epilogue.None, Tensor? residual = null, Tensor? gate = null, long gateRowDiv = 1, Variant? variant = null)
        => Record(seq, x, w, bias, y, epilogue, residual, gate, gateRowDiv, new Overrides(variant));

    /// <summary>As Record, with the overrides given (tests).</summary>
    internal static void Record(Sequence seq, Tensor x, Tensor w, Tensor? bias, Tensor y,
        Epilogue epilogue, Tensor? residual, Tensor? gate, long gateRowDiv, Overrides overrides)
        => Record(seq, x, w, bias, y, epilogue, residual, gate, gateRowDiv, conv: null, 0, x.Rows, overrides);

    /// <summary>The kernel design the engine uses on a device for rows of whole 16-byte texels: Texel on CPU devices, Tiled on GPUs.</summary>
    public static Variant ChosenVariant(DeviceInfo info) => info.IsCpu ? Variant.Texel : Variant.Tiled;

    /// <summary>The geometry of an implicit-GEMM convolution (see gemm_common.glsl): x is a channel-last volume
    /// [B, T, H, W, Cin] read in place, row m of the product is output position m, k runs over (dt, di, dj, ci).</summary>
    internal readonly record struct ConvGeometry(long T, long H, long W, long Cin, long Kt, long Kh, long Kw, long Pad)
    {
        public long Taps => Kt * Kh * Kw;
    }

    /// <summary>y = conv(x) + bias (+ residual) as the GEMM of x's implicit patch matrix [positions, taps·Cin] with
    /// w [Cout, taps·Cin]; x: the whole volume (one binding: a texel view on CPU devices), y and residual [positions, Cout].
    /// Only output rows (positions) [firstRow, firstRow + rows) are computed.</summary>
    internal static void RecordConv(Sequence seq, Tensor x, ConvGeometry conv, Tensor w, Tensor bias, Tensor y, Tensor? residual, long firstRow, long rows, Overrides overrides)
        => Record(seq, x, w, bias, y, Epilogue.None, residual, null, 1, conv, firstRow, rows, overrides);

    static void Record(Sequence seq, Tensor x, Tensor w, Tensor? bias, Tensor y,
        Epilogue epilogue, Tensor? residual, Tensor? gate, long gateRowDiv, ConvGeometry? conv, long firstRow, long rows, Overrides overrides)
    {
        var gpu = seq.Gpu;
        if (x.DType != DType.F32) throw new ArgumentException($"gemm: x must be f32, got {x}");
        if (y.DType != DType.F32) throw new ArgumentException($"gemm: y must be f32, got {y}");
        if (w.Rank != 2) throw new ArgumentException($"gemm: w must be [out, in], got {w}");
        if (w.DType is not (DType.F32 or DType.F16 or DType.BF16)) throw new ArgumentException($"gemm: w must be f32, f16 or bf16, got {w}");
        long n = w.Shape[0], k = w.Shape[1], m = conv is null ? x.Rows : x.Elements / conv.Value.Cin;
        if (conv is { } g)
        {
            if (x.Dim(-1) != g.Cin || k != g.Taps * g.Cin || m != x.Dim(0) * g.T * g.H * g.W)
                throw new ArgumentException($"conv3d: x {x} and w {w} do not match a {g.Kt}x{g.Kh}x{g.Kw} convolution over [{g.T}, {g.H}, {g.W}] frames of {g.Cin} channels");
        }
        else if (x.Dim(-1) != k) throw new ArgumentException($"gemm: x {x} has last dimension {x.Dim(-1)}, w {w} expects {k}");
        if (y.Dim(-1) != n || y.Rows != m) throw new ArgumentException($"gemm: y {y} must be [{m}, {n}] (x {x}, w {w})");
        if (bias is not null && (bias.Elements != n || bias.DType is not (DType.F32 or DType.F16 or DType.BF16)))
            throw new ArgumentException($"gemm: bias {bias} must hold {n} f32, f16 or bf16 values");
        if (residual is not null && (residual.DType != DType.F32 || residual.Dim(-1) != n || residual.Rows != m))
            throw new ArgumentException($"gemm: residual {residual} must be f32 [{m}, {n}] like y");
        if (gateRowDiv < 1) throw new ArgumentException($"gemm: gateRowDiv must be at least 1, got {gateRowDiv}");
        long gateRows = 0;
        if (gate is not null)
        {
            if (gate.DType != DType.F32 || gate.Dim(-1) != n || gate.Rows == 0)
                throw new ArgumentException($"gemm: gate {gate} must be f32 [G, {n}]");
            gateRows = gate.Rows;
        }
        if (m == 0 || n == 0) return;
        if (k == 0) throw new ArgumentException($"gemm: x {x} and w {w} have an empty reduction dimension");

        var variant = ChooseVariant(gpu.Info, x, w, conv?.Cin ?? k, overrides.Variant);
        int wSize = w.DType.Size();
        bool texel = variant == Variant.Texel, panels = w.Layout == TensorLayout.GemmPanels;
        if (panels && (!texel || !GemmPanels.Fits(w.DType, n, k)))
            throw new ArgumentException($"gemm: w {w} is packed for the texel GEMM, which cannot run this product ({variant} variant chosen for x {x}); upload w row-major");
        int rowGroups = overrides.TexelRowGroups ?? TexelRowGroups;
        if (rowGroups < 1 || rowGroups > MaxTexelRowGroups)
            throw new ArgumentException($"gemm: the texel tile height must be 1 to {MaxTexelRowGroups} groups of {TexelLanes} rows, got {rowGroups}");
        int tileM = texel ? TexelLanes * rowGroups : TileM;
        int tileN = texel ? TexelLanes * TexelCols : TileN;
        uint wType = (uint)w.DType.ShaderCode();
        int threadN = TiledThreadN(gpu.Info, overrides);
        // Chunk sizes: every binding of a dispatch stays within its limit (less the alignment slack), and the
        // grid within 65535 workgroups per dimension. Bindings start at the device's offset alignment; shaders get
        // the rest as an element offset.
        ulong align = gpu.Info.OffsetAlignment;
        ulong storageLimit = Math.Min(RowChunks.BindingLimit(gpu), overrides.MaxBindingBytes ?? ulong.MaxValue) - align;
        ulong texelLimit = Math.Min((ulong)gpu.Info.MaxTexelBufferElements * 16, overrides.MaxBindingBytes ?? ulong.MaxValue) - align;
        ulong inputLimit = texel ? texelLimit : storageLimit;
        // y, residual and gate: storage buffers, the latter two R32F texel views in the texel variant.
        ulong outputLimit = texel ? Math.Min(storageLimit, (ulong)gpu.Info.MaxTexelBufferElements * 4 - align) : storageLimit;
        // A convolution reads x around every output row, so x is bound whole and only y (and residual) are split.
        if (conv is not null && x.Bytes > inputLimit)
            throw new ArgumentException($"conv3d: x {x} ({x.Bytes} bytes) is larger than this device lets one {(texel ? "texel view" : "binding")} be ({inputLimit} bytes)");
        long nChunk = ChunkLength(n, inputLimit / (ulong)(k * wSize), tileN, "w", w);
        if (panels && nChunk % GemmPanels.Columns != 0)
            throw new ArgumentException($"gemm: one panel of w {w} ({GemmPanels.Columns} columns) is larger than this device lets one texel view be ({inputLimit} bytes)");
        ulong xRowsLimit = conv is null ? inputLimit / (ulong)(k * 4) : ulong.MaxValue;
        if (firstRow < 0 || rows < 0 || firstRow + rows > m) throw new ArgumentException($"gemm: rows [{firstRow}, {firstRow + rows}) lie outside the {m} rows of y {y}");
        // Texel: the grid's x runs over row blocks times the column group (see gemm_texel.comp N_GROUP); tiled: over columns.
        int nGroup = texel ? TexelColumnGroup(tileN, k, wSize, nChunk, n % nChunk) : 1;
        long mChunk = ChunkLength(rows, Math.Min(xRowsLimit, outputLimit / (ulong)(n * 4)), tileM, "x and y rows of", conv is null ? x : y, nGroup);
        var kernel = texel
            ? TexelDef.Get(gpu, new TexelSpec(TexelLanes, (uint)rowGroups, TexelCols, wType, conv is not null, (uint)nGroup, panels))
            : TiledDef.Get(gpu, new TiledSpec((uint)(TileM / ThreadM * (TileN / threadN)), TileM, TileN, TileK, ThreadM, (uint)threadN, wType, conv is not null));
        if (gate is not null && gate.Bytes > outputLimit) throw new ArgumentException($"gemm: gate {gate} is larger than a binding may be");

        uint flags = (bias is not null ? 1u : 0u) | (residual is not null ? 2u : 0u) | (gate is not null ? 4u : 0u)
                   | (uint)epilogue << 8 | (uint)(bias?.DType.ShaderCode() ?? 0) << 16;
        for (long m0 = firstRow; m0 < firstRow + rows; m0 += mChunk)
            for (long n0 = 0; n0 < n; n0 += nChunk)
            {
                long mc = Math.Min(mChunk, firstRow + rows - m0), nc = Math.Min(nChunk, n - n0);
                var xa = conv is null
                    ? Bind(x, m0 * k * 4, mc * k * 4, texel ? Format.R32G32B32A32Sfloat : Format.Undefined)
                    : Bind(x, 0, x.Elements * 4, texel ? Format.R32G32B32A32Sfloat : Format.Undefined);
                var wa = Bind(w, n0 * k * wSize, nc * k * wSize, texel ? Format.R32G32B32A32Uint : Format.Undefined);
                long yStart = (m0 * n + n0) * 4, yBytes = ((mc - 1) * n + nc) * 4;
                var ya = Bind(y, yStart, yBytes);
                var ba = bias is null ? ya : Bind(bias, n0 * bias.DType.Size(), nc * bias.DType.Size());
                // The texel variant reads residual and gate through R32F views (gemm_common.glsl GEMM_TEXEL_EPILOGUE).
                // Without a residual or gate their binding repeats y, never read.
                var epilogueView = texel ? Format.R32Sfloat : Format.Undefined;
                (Arg arg, ulong skip) unread = (ya.arg with { TexelFormat = epilogueView }, ya.skip);
                var ra = residual is null ? unread : Bind(residual, yStart, yBytes, epilogueView);
                var ga = gate is null ? unread : Bind(gate, 0, (long)gate.Bytes, epilogueView);
                // Offsets inside the bindings: 16-byte texels for the texel views, elements otherwise.
                ulong xUnit = texel ? 16ul : 4ul, wUnit = texel ? 16ul : (ulong)wSize, bUnit = (ulong)(bias?.DType.Size() ?? 4);
                var cg = conv ?? default;
                var push = checked(new Push((uint)mc, (uint)nc, (uint)k, (uint)n, (uint)m0, (uint)n0,
                    (uint)(xa.skip / xUnit), (uint)(wa.skip / wUnit), (uint)(ya.skip / 4), (uint)(ra.skip / 4),
                    (uint)(bias is null ? 0 : ba.skip / bUnit), (uint)(ga.skip / 4),
                    (uint)gateRowDiv, (uint)Math.Max(1, gateRows), flags,
                    new ConvPush((uint)cg.T, (uint)cg.H, (uint)cg.W, (uint)cg.Cin, (uint)cg.Kt, (uint)cg.Kh, (uint)cg.Kw, (uint)cg.Pad)));
                var (gx, gy) = texel
                    ? (Grid.Groups(mc, tileM) * (uint)nGroup, Grid.Groups(Grid.Groups(nc, tileN), nGroup))
                    : (Grid.Groups(nc, tileN), Grid.Groups(mc, tileM));
                seq.Dispatch(kernel, [xa.arg, wa.arg, ba.arg, ra.arg, ga.arg, ya.arg], push, gx, gy, 1,
                    label: conv is { } c ? $"conv3d {c.Cin}->{nc} {c.Kt}x{c.Kh}x{c.Kw} as gemm {mc}x{k}x{nc}" : $"gemm {mc}x{k}x{nc} {w.DType}");
            }
    }

    /// <summary>The texel variant serves CPU devices when rows are whole 16-byte texels of eight values
    /// (<paramref name="k"/>: the row length of x, Cin for a convolution).</summary>
    internal static Variant ChooseVariant(DeviceInfo info, Tensor x, Tensor w, long k, Variant? forced = null)
    {
        bool texelFits = k % 8 == 0 && x.Offset % 16 == 0 && w.Offset % 16 == 0 && info.SubgroupSize >= TexelLanes;
        var wanted = forced ?? ChosenVariant(info);
        return wanted == Variant.Texel && texelFits ? Variant.Texel : Variant.Tiled;
    }

    /// <summary>How many column blocks of <paramref name="tileN"/> columns share one W panel in the texel variant: as
    /// many as fit <see cref="TexelPanelBytes"/> (1 to 8) and divide the column blocks of every dispatch (chunks of
    /// <paramref name="nChunk"/> columns, the last <paramref name="nLast"/> when not 0), so no workgroup idles.</summary>
    static int TexelColumnGroup(int tileN, long k, int wSize, long nChunk, long nLast)
    {
        long blocks = (nChunk + tileN - 1) / tileN, lastBlocks = (nLast + tileN - 1) / tileN;
        for (int g = (int)Math.Clamp(TexelPanelBytes / (tileN * k * wSize), 1, 8); g > 1; g--)
            if (blocks % g == 0 && lastBlocks % g == 0) return g;
        return 1;
    }

    /// <summary>How many rows (of x or y) or columns (of w) one dispatch takes: all if they fit, else a multiple of the tile.</summary>
    static long ChunkLength(long total, ulong fitting, int tile, string what, Tensor t, int workgroupsPerTile = 1)
    {
        long chunk = Math.Min(total, Math.Min((long)Math.Min(fitting, long.MaxValue), 65535L / workgroupsPerTile * tile));
        if (chunk < total && chunk >= tile) chunk -= chunk % tile;
        if (chunk < 1) throw new ArgumentException($"gemm: a single row of {what} {t} is larger than this device lets one binding be");
        return chunk;
    }

    /// <summary>A binding of bytes [start, start + bytes) of a tensor, beginning at an aligned offset; skip is the
    /// distance from the binding's start to the data.</summary>
    static (Arg arg, ulong skip) Bind(Tensor t, long start, long bytes, Format texel = Format.Undefined)
    {
        ulong align = t.Buffer.Gpu.Info.OffsetAlignment;
        ulong begin = t.Offset + (ulong)start;
        ulong aligned = begin / align * align;
        ulong range = begin + (ulong)bytes - aligned;
        return (new Arg(t.Buffer, aligned, range, texel), begin - aligned);
    }
}
