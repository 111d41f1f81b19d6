using T2X.DataGen;
using T2X.Vulkan.Text;
using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>The whole model as one module: "text_encoder" (T5) and "transformer" (PT-DiT), trained together.</summary>
public sealed class TextToImage : NamedModule
{
    public readonly ModelConfig Config;
    public readonly T5Encoder TextEncoder;
    public readonly PtDit Transformer;
    public readonly T5Tokenizer Tokenizer = new(Vocabulary.SentencePiece());

    public TextToImage(ModelConfig config) : base("TextToImage")
    {
        Config = config;
        TextEncoder = new T5Encoder(config, Vocabulary.TrainedRows);
        Transformer = new PtDit(config);
        register_module("text_encoder", TextEncoder);
        register_module("transformer", Transformer);
    }

    /// <summary>Ids [N, L] and mask [N, L] (float) of prompts, cleaned and tokenized as the pipeline does.</summary>
    public (Tensor Ids, Tensor Mask) Tokenize(IReadOnlyList<string> prompts)
    {
        var batch = Tokenizer.EncodeBatch(prompts.Select(CaptionCleaner.Clean).ToArray(), Config.MaxLength);
        var ids = tensor(batch.InputIds).view(prompts.Count, Config.MaxLength);
        var mask = tensor(batch.AttentionMask).view(prompts.Count, Config.MaxLength).to_type(ScalarType.Float32);
        return (ids, mask);
    }

    /// <summary>Velocity prediction for noisy pixels x at times t, conditioned on prompts (already tokenized).</summary>
    public Tensor Predict(Tensor x, Tensor t, Tensor ids, Tensor mask) =>
        Transformer.Forward(x, t, TextEncoder.Forward(ids, mask), mask);

    /// <summary>Images for prompts with the rectified-flow sampler and CFG against the empty prompt.</summary>
    public byte[][] Generate(IReadOnlyList<string> prompts, int steps, double cfg, long seed, bool timestepTransform, double transformScale)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int n = prompts.Count, s = Config.ImageSize;
        var (ids, mask) = Tokenize([.. prompts, .. Enumerable.Repeat("", n)]);
        var text = TextEncoder.Forward(ids, mask);
        var z = randn([n, Config.InChannels, s, s], generator: new Generator((ulong)seed));
        z = RectifiedFlow.Sample((x, t) => Transformer.Forward(x, t, text, mask), z, steps, cfg, timestepTransform, transformScale);
        return Images.ToRgb(z);
    }

    /// <summary>Share of prompts whose colors (objects and background) and whose shapes the images show.</summary>
    public static (double Colors, double Shapes) Adherence(IReadOnlyList<string> prompts, IReadOnlyList<byte[]> images, int size)
    {
        var results = prompts.Select((p, i) => AdherenceChecker.Check(images[i], size, CaptionParser.Parse(p))).ToArray();
        return (results.Count(r => r.AllColors) / (double)results.Length, results.Count(r => r.AllShapes) / (double)results.Length);
    }
}
