using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Reference;

/// <summary>
/// transformers' T5EncoderModel forward in double precision, written plainly from docs/t5.md §4:
/// embedding, additive mask with float32's minimum, relative position bias from block 0 shared by all blocks,
/// pre-norm RMSNorm blocks without 1/√d logit scaling, (gated) feed-forward, final RMSNorm.
/// Returns last_hidden_state [B, L, d_model].
/// </summary>
public static class T5Reference
{
    public static double[] Forward(T5Config c, IReadOnlyDictionary<string, HostTensor> weights, long[] ids, long[] mask, int batch, int length)
    {
        double[] W(string name) => weights.TryGetValue(name, out var t) ? t.ToFloat64() : throw new KeyNotFoundException(name);
        var embedding = weights.ContainsKey("shared.weight") ? W("shared.weight") : W("encoder.embed_tokens.weight");
        int D = c.DModel, H = c.NumHeads, dk = c.DKv, inner = H * dk, F = c.DFf, L = length;
        int rows = batch * L;

        var x = new double[rows * D];
        for (int r = 0; r < rows; r++)
            Array.Copy(embedding, ids[r] * D, x, r * D, D);

        // Position bias P[h, i, j] from block 0's table, then the mask bias added to it (once, for every block).
        var table = W("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");   // [buckets, H]
        var bias = new double[batch * H * L * L];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < L; i++)
                    for (int j = 0; j < L; j++)
                        bias[((b * H + h) * L + i) * L + j] = table[Bucket(j - i, c) * H + h] + (1 - mask[b * L + j]) * (double)float.MinValue;

        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            string p = $"encoder.block.{layer}.layer.";
            var h0 = RmsNorm(x, W(p + "0.layer_norm.weight"), D, c.LayerNormEpsilon);
            var q = Linear(h0, W(p + "0.SelfAttention.q.weight"), D, inner);
            var k = Linear(h0, W(p + "0.SelfAttention.k.weight"), D, inner);
            var v = Linear(h0, W(p + "0.SelfAttention.v.weight"), D, inner);
            var ctx = new double[rows * inner];
            var s = new double[L];
            for (int b = 0; b < batch; b++)
                for (int h = 0; h < H; h++)
                    for (int i = 0; i < L; i++)
                    {
                        double max = double.NegativeInfinity;
                        for (int j = 0; j < L; j++)
                        {
                            double dot = 0;
                            for (int e = 0; e < dk; e++) dot += q[(b * L + i) * inner + h * dk + e] * k[(b * L + j) * inner + h * dk + e];
                            s[j] = dot + bias[((b * H + h) * L + i) * L + j];
                            max = Math.Max(max, s[j]);
                        }
                        double sum = 0;
                        for (int j = 0; j < L; j++) { s[j] = Math.Exp(s[j] - max); sum += s[j]; }
                        for (int j = 0; j < L; j++)
                            for (int e = 0; e < dk; e++)
                                ctx[(b * L + i) * inner + h * dk + e] += s[j] / sum * v[(b * L + j) * inner + h * dk + e];
                    }
            AddInPlace(x, Linear(ctx, W(p + "0.SelfAttention.o.weight"), inner, D));

            var h1 = RmsNorm(x, W(p + "1.layer_norm.weight"), D, c.LayerNormEpsilon);
            double[] hidden;
            if (c.IsGatedAct)
            {
                var g = Linear(h1, W(p + "1.DenseReluDense.wi_0.weight"), D, F);
                var u = Linear(h1, W(p + "1.DenseReluDense.wi_1.weight"), D, F);
                hidden = new double[g.Length];
                for (int i = 0; i < g.Length; i++) hidden[i] = Activation(c.DenseActFn, g[i]) * u[i];
            }
            else
            {
                hidden = Linear(h1, W(p + "1.DenseReluDense.wi.weight"), D, F);
                for (int i = 0; i < hidden.Length; i++) hidden[i] = Activation(c.DenseActFn, hidden[i]);
            }
            AddInPlace(x, Linear(hidden, W(p + "1.DenseReluDense.wo.weight"), F, D));
        }
        return RmsNorm(x, W("encoder.final_layer_norm.weight"), D, c.LayerNormEpsilon);
    }

    /// <summary>The bucket table of docs/t5.md §4.3 for T5's 32 buckets and distance 128; other settings
    /// use the engine's exact-integer formula.</summary>
    public static int Bucket(int r, T5Config c)
    {
        if (c.RelativeAttentionNumBuckets != 32 || c.RelativeAttentionMaxDistance != 128)
            return T5Config.RelativePositionBucket(r, c.RelativeAttentionNumBuckets, c.RelativeAttentionMaxDistance);
        int n = Math.Abs(r);
        int b = n < 8 ? n : n <= 11 ? 8 : n <= 15 ? 9 : n <= 22 ? 10 : n <= 31 ? 11 : n <= 45 ? 12 : n <= 63 ? 13 : n <= 90 ? 14 : 15;
        return r > 0 ? 16 + b : b;
    }

    public static double Activation(string name, double z) => name switch
    {
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => 0.5 * z * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z))),
        "relu" => Math.Max(0, z),
        "silu" or "swish" => z / (1 + Math.Exp(-z)),
        _ => throw new NotSupportedException($"reference activation '{name}'"),
    };

    static double[] RmsNorm(double[] x, double[] w, int d, double eps)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / d; r++)
        {
            double ss = 0;
            for (int i = 0; i < d; i++) ss += x[r * d + i] * x[r * d + i];
            double inv = 1 / Math.Sqrt(ss / d + eps);
            for (int i = 0; i < d; i++) y[r * d + i] = w[i] * (x[r * d + i] * inv);
        }
        return y;
    }

    /// <summary>y = x · Wᵀ with W stored [out, in].</summary>
    static double[] Linear(double[] x, double[] w, int inDim, int outDim)
    {
        int rows = x.Length / inDim;
        var y = new double[rows * outDim];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outDim; o++)
            {
                double acc = 0;
                for (int i = 0; i < inDim; i++) acc += x[r * inDim + i] * w[o * inDim + i];
                y[r * outDim + o] = acc;
            }
        return y;
    }

    static void AddInPlace(double[] x, double[] y)
    {
        for (int i = 0; i < x.Length; i++) x[i] += y[i];
    }
}
