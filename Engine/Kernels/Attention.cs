namespace T2X.Vulkan.Kernels;

/// <summary>
/// Dense multi-head attention, O = softmax(Q·Kᵀ·scale + mask bias + bias)·V per head, with an online softmax (the
/// Nq × Nk logits never exist in memory). Shader: Shaders/attention.comp (core: Shaders/include/attention_core.glsl).
/// </summary>
public static class Attention
{
    readonly record struct Push(uint Nq, uint Nk, int QBase, int QStride, int KBase, int KStride, int VBase, int VStride,
        uint OStride, uint BiasHeads, float Scale);
    readonly record struct Spec(AttentionCoreSpec Core, Bool32 HasMask, Bool32 HasBias);
    static readonly KernelDef<Push, Spec> Def = new("attention",
        Access.ReadTexel, Access.ReadTexel, Access.ReadTexel, Access.Write, Access.Read, Access.Read);

    /// <summary>
    /// Records the attention of q [B, Nq, ·] over k, v [B, Nk, ·] into o [B, Nq, heads·headDim] (all f32).
    /// The scale multiplies the dot product before any bias (T5: 1, PT-DiT: 1/√headDim).
    /// keyMask [B, Nk] (1 keep, 0 drop) adds the official −10000·(1 − m), not −inf: a row whose keys are all
    /// dropped becomes plain unmasked attention (docs/ptdit.md, quirk Q7). bias [Hb, Nq, Nk], Hb = 1 or heads, is added to the
    /// logits of every batch element (T5's relative position bias).
    /// </summary>
    public static void Record(Sequence seq, AttentionInput q, AttentionInput k, AttentionInput v, Tensor o,
        int heads, int headDim, float scale, Tensor? keyMask = null, Tensor? bias = null,
        AttentionVariant variant = AttentionVariant.Auto)
    {
        const string op = "attention";
        AttentionSetup.CheckHeads(op, heads, headDim);
        if (q.Tensor.Rank != 3 || k.Tensor.Rank != 3)
            throw new ArgumentException($"{op}: q and k must be [B, N, C] tensors; got q {q.Tensor}, k {k.Tensor}");
        long batch = q.Tensor.Shape[0], nq = q.Tensor.Shape[1], nk = k.Tensor.Shape[1];
        if (batch < 1 || batch > 65535 || nq < 1 || nk < 1)
            throw new ArgumentException($"{op}: need 1 ≤ B ≤ 65535, Nq ≥ 1, Nk ≥ 1; got q {q.Tensor}, k {k.Tensor}");
        AttentionSetup.CheckInput(op, "q", q, batch, nq, heads, headDim);
        AttentionSetup.CheckInput(op, "k", k, batch, nk, heads, headDim);
        AttentionSetup.CheckInput(op, "v", v, batch, nk, heads, headDim);
        long width = (long)heads * headDim;
        if (o.DType != DType.F32 || o.Rank != 3 || o.Shape[0] != batch || o.Shape[1] != nq || o.Shape[2] != width)
            throw new ArgumentException($"{op}: o must be f32 [{batch}, {nq}, {width}]; got {o}");
        if (keyMask is not null && (keyMask.DType != DType.F32 || keyMask.Rank != 2 || keyMask.Shape[0] != batch || keyMask.Shape[1] != nk))
            throw new ArgumentException($"{op}: keyMask must be f32 [{batch}, {nk}]; got {keyMask}");
        long biasHeads = bias?.Shape[0] ?? 1;
        if (bias is not null && (bias.DType != DType.F32 || bias.Rank != 3 || (biasHeads != 1 && biasHeads != heads) || bias.Shape[1] != nq || bias.Shape[2] != nk))
            throw new ArgumentException($"{op}: bias must be f32 [1 or {heads}, {nq}, {nk}]; got {bias}");

        var gpu = seq.Gpu;
        var (spec, perGroup) = AttentionSetup.Variant(gpu, variant, headDim);
        var kernel = Def.Get(gpu, new Spec(spec, keyMask is not null, bias is not null));
        var (qa, qBase, qStride) = AttentionSetup.Texels(op, "q", gpu, q);
        var (ka, kBase, kStride) = AttentionSetup.Texels(op, "k", gpu, k);
        var (va, vBase, vStride) = AttentionSetup.Texels(op, "v", gpu, v);
        var push = checked(new Push((uint)nq, (uint)nk, qBase, qStride, kBase, kStride, vBase, vStride, (uint)(width / 4), (uint)biasHeads, scale));
        // Absent mask or bias: the binding still needs a buffer; the shader never reads it.
        Arg unused = o;
        uint groups = Grid.Groups(nq, perGroup);
        if (groups > 65535) throw new ArgumentException($"{op}: {nq} queries need {groups} workgroups, more than 65535");
        seq.Dispatch(kernel, [qa, ka, va, o, keyMask ?? unused, bias ?? unused], push, groups, (uint)heads, (uint)batch);
    }
}
