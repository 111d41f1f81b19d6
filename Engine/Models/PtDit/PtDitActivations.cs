namespace T2X.Vulkan.Models.PtDit;

/// <summary>
/// Every device tensor a forward pass uses, allocated once per recorded size (from the run's <see cref="TensorArena"/>,
/// which frees them) and reused by every block and call. Tensors whose lifetimes do not overlap share memory (the
/// block's q/k/v of one step and of the next, for example).
/// </summary>
internal sealed class PtDitActivations
{
    readonly TensorArena _arena;

    // Inputs that change per call: the timestep sinusoid [B, 256]; per text: text [B, L, Cc] and mask [B, L].
    public readonly Tensor Sinusoid, Text, Mask;
    // Constants per size: the position table in window order [T, D], the shifted-window row-sample ids [B·T].
    public readonly Tensor Position, ShiftedRowSample;
    // Text side: caption hidden [B·L, D], context [B·L, D], each block's text keys|values [layers, B, L, 2D].
    public readonly Tensor CaptionHidden, Context, TextKvAll;
    // Timestep side: [B, D] hidden, temb, SiLU(temb); temb6 [B, 6D]; modulation vectors [6, B, D], [3, B, D], [2, B, D].
    public readonly Tensor TembHidden, Temb, TembSilu, Temb6, BlockMod, ShiftMod, FinalMod;
    // Hidden state X [B·T, D] (window-major rows: [B·P, N, D]) and the working tensors of a block.
    public readonly Tensor Patches, X, Y, Qkv, O, A, Ff, TokenShift, TokenScale, FinalTokens;
    // Proxy path: proxies [B, P·Kp, D], their norm, their q|k|v [B, P·Kp, 3D], attention output, and k|v for step 2.
    public readonly Tensor? Proxies, ProxyNorm, ProxyQkv, ProxyO, ProxyKv;
    readonly PtDitLayout _l;

    public PtDitActivations(TensorArena arena, PtDitLayout l, AttentionMode mode)
    {
        _arena = arena;
        _l = l;
        var c = l.Config;
        long B = l.B, T = l.Tokens, D = c.Dim, L = l.L, rows = B * T;
        Sinusoid = arena.NewHostVisible(DType.F32, B, PtDitEmbeddings.TimestepChannels);   // rewritten before every sampler step
        Text = F32(B, L, c.CaptionChannels);
        Mask = F32(B, L);
        Position = F32(T, D);
        ShiftedRowSample = New(DType.I32, rows);
        CaptionHidden = F32(B * L, D);
        Context = F32(B * L, D);
        TextKvAll = F32(c.NumLayers, B, L, 2 * D);
        TembHidden = F32(B, D);
        Temb = F32(B, D);
        TembSilu = F32(B, D);
        Temb6 = F32(B, 6 * D);
        BlockMod = F32(6, B, D);
        ShiftMod = F32(3, B, D);
        FinalMod = F32(2, B, D);
        Patches = F32(rows, c.InChannels * c.PatchSize * c.PatchSize);
        X = F32(rows, D);
        Y = F32(rows, D);
        Qkv = F32(rows, 3 * D);
        O = F32(rows, D);
        A = F32(rows, D);
        Ff = F32(rows, c.FfDim);
        TokenShift = F32(rows, D);
        TokenScale = F32(rows, D);
        FinalTokens = F32(B, T, c.PatchSize * c.PatchSize * c.OutChannels);
        if (mode == AttentionMode.Proxy)
        {
            long k = l.Proxies;
            Proxies = F32(B, k, D);
            ProxyNorm = F32(B, k, D);
            ProxyQkv = F32(B, k, 3 * D);
            ProxyO = F32(B, k, D);
            ProxyKv = F32(B, k, 2 * D);
        }
    }

    Tensor F32(params long[] shape) => _arena.F32(shape);

    Tensor New(DType dtype, params long[] shape) => _arena.New(dtype, shape);

    /// <summary>Block i's text keys|values [B, L, 2D].</summary>
    public Tensor TextKv(int i) => TextKvAll.Slice(i, 1).Reshape(_l.B, _l.L, 2 * _l.Config.Dim);

    /// <summary>A tensor viewed under another shape (same element count).</summary>
    public static Tensor View(Tensor t, params long[] shape) => t.Reshape(shape);
}
