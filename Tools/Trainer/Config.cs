namespace T2X.Trainer;

/// <summary>The built-in model's sizes. Names follow the official configs (PT-DiT predictor, Hugging Face T5).</summary>
public sealed record ModelConfig
{
    // Pixel-space image: no VAE, the predictor sees RGB in [-1, 1].
    public int ImageSize { get; init; } = 64;
    public int InChannels { get; init; } = 3;
    public int OutChannels => 2 * InChannels; // "learned sigma" head as in the release; the sampler uses the first half

    // PT-DiT predictor.
    public int NumHeads { get; init; } = 3;
    public int HeadDim { get; init; } = 32;
    public int Width => NumHeads * HeadDim;
    public int NumLayers { get; init; } = 4;
    public int PatchSize { get; init; } = 4;
    public int Window { get; init; } = 4; // compress_ratios = proxy_compress_ratios = [1, Window, Window]

    // T5 v1.1 encoder.
    public int TextWidth { get; init; } = 64;       // d_model = caption_channels
    public int TextHeads { get; init; } = 2;
    public int TextHeadDim { get; init; } = 32;      // d_kv
    public int TextFeedForward { get; init; } = 128; // d_ff
    public int TextLayers { get; init; } = 2;
    public int MaxLength { get; init; } = 32;        // tokens per prompt, padded

    public int TokensPerSide => ImageSize / PatchSize;
}
