using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>RMS norm with a learned scale (T5 "layer_norm"), eps 1e-6.</summary>
public sealed class T5RmsNorm : NamedModule
{
    readonly Parameter weight;
    public T5RmsNorm(int width) : base("T5RmsNorm")
    {
        weight = new Parameter(ones(width));
        register_parameter("weight", weight);
    }
    public Tensor Forward(Tensor x) => weight * (x * rsqrt(x.pow(2).mean([-1], keepdim: true) + 1e-6));
}

/// <summary>One T5 v1.1 encoder block: layer.0 = RMS norm + self-attention, layer.1 = RMS norm + gated-GELU feed-forward.</summary>
public sealed class T5Block : NamedModule
{
    readonly T5RmsNorm attnNorm, ffNorm;
    readonly Linear q, k, v, o, wi0, wi1, wo;
    readonly int heads, headDim;

    public T5Block(ModelConfig c, Embedding? relativeBias) : base("T5Block")
    {
        heads = c.TextHeads; headDim = c.TextHeadDim;
        int inner = heads * headDim;
        attnNorm = new T5RmsNorm(c.TextWidth);
        ffNorm = new T5RmsNorm(c.TextWidth);
        q = nn.Linear(c.TextWidth, inner, hasBias: false);
        k = nn.Linear(c.TextWidth, inner, hasBias: false);
        v = nn.Linear(c.TextWidth, inner, hasBias: false);
        o = nn.Linear(inner, c.TextWidth, hasBias: false);
        wi0 = nn.Linear(c.TextWidth, c.TextFeedForward, hasBias: false);
        wi1 = nn.Linear(c.TextWidth, c.TextFeedForward, hasBias: false);
        wo = nn.Linear(c.TextFeedForward, c.TextWidth, hasBias: false);
        var attention = relativeBias is null
            ? new Container(("q", q), ("k", k), ("v", v), ("o", o))
            : new Container(("q", q), ("k", k), ("v", v), ("o", o), ("relative_attention_bias", relativeBias));
        register_module("layer", new ModuleList<nn.Module>(
            new Container(("SelfAttention", attention), ("layer_norm", attnNorm)),
            new Container(("DenseReluDense", new Container(("wi_0", wi0), ("wi_1", wi1), ("wo", wo))), ("layer_norm", ffNorm))));
        // T5's initialisation folds the missing 1/sqrt(d) of the attention logits into q.
        using (no_grad())
        {
            nn.init.normal_(q.weight!, 0, Math.Pow(c.TextWidth * headDim, -0.5));
            foreach (var lin in new[] { k, v, wi0, wi1 }) nn.init.normal_(lin.weight!, 0, Math.Pow(c.TextWidth, -0.5));
            nn.init.normal_(o.weight!, 0, Math.Pow(inner, -0.5));
            nn.init.normal_(wo.weight!, 0, Math.Pow(c.TextFeedForward, -0.5));
        }
    }

    /// <summary>x [B, L, D]; bias [B, H, L, L] = position bias + padding mask (block 0's, shared by all blocks).</summary>
    public Tensor Forward(Tensor x, Tensor bias)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1];
        var hn = attnNorm.Forward(x);
        Tensor Heads(Tensor t) => t.view(b, l, heads, headDim).transpose(1, 2);
        var scores = matmul(Heads(q.forward(hn)), Heads(k.forward(hn)).transpose(2, 3)) + bias; // no 1/sqrt(d)
        var context = matmul(softmax(scores, -1), Heads(v.forward(hn))).transpose(1, 2).reshape(b, l, heads * headDim);
        x = x + o.forward(context);
        var hf = ffNorm.Forward(x);
        x = x + wo.forward(Ops.GeluTanh(wi0.forward(hf)) * wi1.forward(hf));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>T5 v1.1 encoder (T5EncoderModel) in the Hugging Face key layout: shared, encoder.block.{i}..., encoder.final_layer_norm.</summary>
public sealed class T5Encoder : NamedModule
{
    public const int NumBuckets = 32, MaxDistance = 128;
    public readonly ModelConfig Config;
    public readonly int VocabSize;
    readonly Embedding shared, relativeBias;
    readonly ModuleList<T5Block> blocks;
    readonly T5RmsNorm finalNorm;

    public T5Encoder(ModelConfig config, int vocabSize) : base("T5Encoder")
    {
        Config = config;
        VocabSize = vocabSize;
        shared = nn.Embedding(vocabSize, config.TextWidth);
        relativeBias = nn.Embedding(NumBuckets, config.TextHeads);
        blocks = new ModuleList<T5Block>(Enumerable.Range(0, config.TextLayers).Select(i => new T5Block(config, i == 0 ? relativeBias : null)).ToArray());
        finalNorm = new T5RmsNorm(config.TextWidth);
        register_module("shared", shared);
        register_module("encoder", new Container(("block", blocks), ("final_layer_norm", finalNorm)));
        using (no_grad()) nn.init.normal_(shared.weight!, 0, 1.0);
    }

    /// <summary>ids [B, L] int64, mask [B, L] float (1 keep, 0 pad) -> last_hidden_state [B, L, D].</summary>
    public Tensor Forward(Tensor ids, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long l = ids.shape[1];
        var x = shared.forward(ids);
        var position = relativeBias.forward(Buckets((int)l)).permute(2, 0, 1).unsqueeze(0); // [1, H, L, L]
        var bias = position + ((1 - mask) * float.MinValue).view(mask.shape[0], 1, 1, l);
        foreach (var block in blocks) x = block.Forward(x, bias);
        return finalNorm.Forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Bidirectional relative-position buckets (docs/t5.md §4.3) for key j and query i, [L, L] int64.</summary>
    public static Tensor Buckets(int length)
    {
        var buckets = new long[length * length];
        for (int i = 0; i < length; i++)
            for (int j = 0; j < length; j++)
                buckets[i * length + j] = Bucket(j - i);
        return tensor(buckets).view(length, length);
    }

    public static int Bucket(int relative)
    {
        const int half = NumBuckets / 2, exact = half / 2;
        int baseBucket = relative > 0 ? half : 0, n = Math.Abs(relative);
        if (n < exact) return baseBucket + n;
        int large = exact + (int)(MathF.Log(n / (float)exact) / MathF.Log(MaxDistance / (float)exact) * (half - exact));
        return baseBucket + Math.Min(half - 1, large);
    }
}
