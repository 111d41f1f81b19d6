using T2X.Vulkan.Kernels;

namespace T2X.Vulkan.Models.PtDit;

/// <summary>
/// One PT-DiT block (docs/ptdit.md §7; the Qn below are its quirks), recorded as the paper describes it: proxy tokens, proxy self-attention,
/// proxy-to-visual injection, window attention, shifted-window attention, text cross-attention, feed-forward — each
/// with the official adaLN-single modulation. The hidden state X [B·P, N, D] is updated in place. In the global
/// attention mode (see <see cref="AttentionMode"/>) step 3 attends over all tokens and steps 1, 2 and 4 are skipped.
/// </summary>
internal static class PtDitBlock
{
    public static void Record(Sequence seq, PtDitModel model, int index, PtDitLayout l, PtDitActivations a)
    {
        var c = model.Config;
        var w = model.Weights;
        string k = PtDitKeys.Block(index);
        long B = l.B, D = c.Dim, N = l.WindowTokens;
        float eps = (float)c.NormEps, scale = 1 / MathF.Sqrt(c.HeadDim);
        var block = new Block(seq, w, k, c.NumHeads, c.HeadDim, scale);

        // Modulation vectors [6, B, D]: shift/scale/gate of the window attention, then of the feed-forward. Row R of X
        // uses sample R mod B (docs/ptdit.md, quirk Q1): LayerNorm/GEMM row mapping with rowDiv = N tokens per row, G = B.
        Modulation.Record(seq, w[k + "scale_shift_table"], a.Temb6, a.BlockMod);
        Tensor Mod(Tensor table, int j) => table.Slice(j, 1).Reshape(B, D);

        if (model.Mode == AttentionMode.Proxy)
        {
            // Step 1: proxy tokens (window means on the proxy lattice, Q6) and proxy self-attention over a sample's proxies.
            var proxy = new WindowSize(l.Cf, c.ProxyCompressRatios[1], c.ProxyCompressRatios[2]);
            WindowMean.Record(seq, a.X.Reshape(B * l.Windows, N, D), a.Proxies!, new WindowSize(l.Cf, l.Ch, l.Cw), proxy);
            LayerNorm.Record(seq, a.Proxies!, a.ProxyNorm!, eps);
            block.SelfAttention("proxy_attn1", a.ProxyNorm!, a.ProxyQkv!, B, l.Proxies,
                o => Attention.Record(seq, o.q, o.k, o.v, a.ProxyO!, c.NumHeads, c.HeadDim, scale));
            block.Output("proxy_attn1", a.ProxyO!, a.Proxies!, residual: a.Proxies);

            // Step 2: every visual token queries its sample's proxies; injected through linear_1_visual with no gate (Q10).
            LayerNorm.Record(seq, a.X, a.Y, eps);
            LayerNorm.Record(seq, a.Proxies!, a.ProxyNorm!, eps);
            Gemm.Record(seq, a.Y, w[k + "pvisual_attn2.to_q.weight"], w.Optional(k + "pvisual_attn2.to_q.bias"), a.O);
            Gemm.Record(seq, a.ProxyNorm!, w[k + "pvisual_attn2.to_kv.weight"], w.Optional(k + "pvisual_attn2.to_kv.bias"), a.ProxyKv!);
            Attention.Record(seq, a.O.Reshape(B, l.Tokens, D), new AttentionInput(a.ProxyKv!, 0), new AttentionInput(a.ProxyKv!, (int)D),
                a.A.Reshape(B, l.Tokens, D), c.NumHeads, c.HeadDim, scale);
            block.Output("pvisual_attn2", a.A, a.O);
            Gemm.Record(seq, a.O, w[k + "linear_1_visual.weight"], w[k + "linear_1_visual.bias"], a.X, residual: a.X);
        }

        // Step 3: window self-attention (global mode: over all tokens of a sample), modulated and gated.
        LayerNorm.Record(seq, a.X, a.Y, eps, Mod(a.BlockMod, 0), Mod(a.BlockMod, 1), N);
        if (model.Mode == AttentionMode.Proxy)
            block.SelfAttention("attn1", a.Y, a.Qkv, B * l.Windows, N, o =>
                WindowAttention.Record(seq, o.q, o.k, o.v, a.O.Reshape(B * l.Windows, N, D), c.NumHeads, c.HeadDim, scale, Grid(l), shifted: false));
        else
            block.SelfAttention("attn1", a.Y, a.Qkv, B, l.Tokens, o =>
                Attention.Record(seq, o.q, o.k, o.v, a.O.Reshape(B, l.Tokens, D), c.NumHeads, c.HeadDim, scale));
        block.Output("attn1", a.O, a.X, residual: a.X, gate: Mod(a.BlockMod, 2), gateRowDiv: N);

        // Step 4: shifted-window self-attention. The roll, region mask and inverse roll happen inside the kernel. The
        // official code modulates the rolled rows, so each token takes the sample of its rolled row (Q1): per-token
        // shift/scale gathered by id. The gate multiplies before linear_2, in the normal layout (Q10).
        if (model.Mode == AttentionMode.Proxy && c.ShiftWindow)
        {
            Modulation.Record(seq, w[k + "proxy_scale_shift_table"], a.Temb6, a.ShiftMod);
            Embedding.Record(seq, a.ShiftedRowSample, Mod(a.ShiftMod, 0), a.TokenShift);
            Embedding.Record(seq, a.ShiftedRowSample, Mod(a.ShiftMod, 1), a.TokenScale);
            LayerNorm.Record(seq, a.X, a.Y, eps, a.TokenShift, a.TokenScale, 1);
            block.SelfAttention("attn3", a.Y, a.Qkv, B * l.Windows, N, o =>
                WindowAttention.Record(seq, o.q, o.k, o.v, a.O.Reshape(B * l.Windows, N, D), c.NumHeads, c.HeadDim, scale, Grid(l), shifted: true));
            block.Output("attn3", a.O, a.A, gate: Mod(a.ShiftMod, 2), gateRowDiv: N);   // the gate in to_out's epilogue
            Gemm.Record(seq, a.A, w[k + "linear_2.weight"], w[k + "linear_2.bias"], a.X, residual: a.X);
        }

        // Step 5: text cross-attention on the raw residual stream (no norm, no modulation, Q10); keys and values were
        // computed from the caption once per text. Masked tokens get −10000, not −inf (Q7).
        Gemm.Record(seq, a.X, w[k + "attn2.to_q.weight"], w.Optional(k + "attn2.to_q.bias"), a.O);
        var kv = a.TextKv(index);
        Attention.Record(seq, a.O.Reshape(B, l.Tokens, D), new AttentionInput(kv, 0), new AttentionInput(kv, (int)D), a.A.Reshape(B, l.Tokens, D),
            c.NumHeads, c.HeadDim, scale, keyMask: a.Mask);
        block.Output("attn2", a.A, a.X, residual: a.X);

        // Step 6: feed-forward, modulated and gated.
        LayerNorm.Record(seq, a.X, a.Y, eps, Mod(a.BlockMod, 3), Mod(a.BlockMod, 4), N);
        Gemm.Record(seq, a.Y, w[k + "ff.net.0.proj.weight"], w[k + "ff.net.0.proj.bias"], a.Ff, Epilogue.Gelu);
        Gemm.Record(seq, a.Ff, w[k + "ff.net.2.weight"], w[k + "ff.net.2.bias"], a.X, residual: a.X, gate: Mod(a.BlockMod, 5), gateRowDiv: N);
    }

    static WindowGrid Grid(PtDitLayout l) => new(l.F, l.H, l.W, l.Cf, l.Ch, l.Cw);

    /// <summary>The projections of one attention module of a block.</summary>
    readonly record struct Block(Sequence Seq, PtDitWeights W, string Prefix, int Heads, int HeadDim, float Scale)
    {
        /// <summary>q|k|v = x·Wqkvᵀ (one GEMM), then the attention over the three column slices of qkv viewed as
        /// [sequences, tokens, 3D].</summary>
        public void SelfAttention(string name, Tensor x, Tensor qkv, long sequences, long tokens, Action<(AttentionInput q, AttentionInput k, AttentionInput v)> attend)
        {
            long d = (long)Heads * HeadDim;
            Gemm.Record(Seq, x.Reshape(x.Rows, x.Dim(-1)), W[Prefix + name + ".to_qkv.weight"], W.Optional(Prefix + name + ".to_qkv.bias"), qkv.Reshape(x.Rows, 3 * d));
            var view = qkv.Reshape(sequences, tokens, 3 * d);
            attend((new AttentionInput(view, 0), new AttentionInput(view, (int)d), new AttentionInput(view, (int)(2 * d))));
        }

        /// <summary>The output projection to_out.0: y = [residual +] [gate ⊙] (o·Woᵀ + bo).</summary>
        public void Output(string name, Tensor o, Tensor y, Tensor? residual = null, Tensor? gate = null, long gateRowDiv = 1)
            => Gemm.Record(Seq, o.Reshape(o.Rows, o.Dim(-1)), W[Prefix + name + ".to_out.0.weight"], W[Prefix + name + ".to_out.0.bias"],
                y.Reshape(y.Rows, y.Dim(-1)), residual: residual?.Reshape(residual.Rows, residual.Dim(-1)), gate: gate, gateRowDiv: gateRowDiv);
    }
}
