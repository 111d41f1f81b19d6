using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>diffusers Attention as the released PT-DiT uses it: to_q/to_k/to_v with bias, to_out.0, scaled dot
/// product plus an additive bias (masks are -10000 biases, not -inf).</summary>
public sealed class Attention : NamedModule
{
    readonly Linear toQ, toK, toV, toOut;
    readonly int heads;

    public Attention(int width, int contextWidth, int heads) : base("Attention")
    {
        this.heads = heads;
        toQ = nn.Linear(width, width);
        toK = nn.Linear(contextWidth, width);
        toV = nn.Linear(contextWidth, width);
        toOut = nn.Linear(width, width);
        register_module("to_q", toQ);
        register_module("to_k", toK);
        register_module("to_v", toV);
        register_module("to_out", new ModuleList<nn.Module>(toOut)); // key "to_out.0"
    }

    public Linear OutProjection => toOut;

    /// <summary>x [G, Lq, D] queries, context [G, Lk, Dc] keys/values; bias broadcastable to [G, heads, Lq, Lk].</summary>
    public Tensor Forward(Tensor x, Tensor context, Tensor? bias = null)
    {
        using var scope = NewDisposeScope();
        long g = x.shape[0], lq = x.shape[1], lk = context.shape[1], d = x.shape[2];
        Tensor Heads(Tensor t, long l) => t.view(g, l, heads, d / heads).transpose(1, 2);
        var q = Heads(toQ.forward(x), lq);
        var k = Heads(toK.forward(context), lk);
        var v = Heads(toV.forward(context), lk);
        var o = nn.functional.scaled_dot_product_attention(q, k, v, bias);
        return toOut.forward(o.transpose(1, 2).reshape(g, lq, d)).MoveToOuterDisposeScope();
    }
}

public static class Ops
{
    /// <summary>LayerNorm over the last axis without affine parameters, eps 1e-6 (every PT-DiT norm).</summary>
    public static Tensor LayerNorm(Tensor x) => nn.functional.layer_norm(x, [x.shape[^1]], null, null, 1e-6);

    /// <summary>GELU, tanh approximation (PT-DiT feed-forward, caption projection, T5 gated-gelu).</summary>
    public static Tensor GeluTanh(Tensor x) =>
        0.5 * x * (1 + torch.tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x.pow(3))));

    /// <summary>mod(y; shift, scale) = y (1 + scale) + shift.</summary>
    public static Tensor Modulate(Tensor y, Tensor shift, Tensor scale) => y * (1 + scale) + shift;
}
