using System.Diagnostics;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Presentation;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Text;

namespace T2X.Vulkan.Pipelines;

/// <summary>
/// Text to image on the device: caption cleaning → tokenizer → T5 encoder → PT-DiT rectified-flow sampler with
/// classifier-free guidance → image. Everything between the tokenizer and the final image stays on the device;
/// after each step the clean-image estimate is handed out as a preview (the viewer shows it).
/// Pixel-space models sample the image itself; latent models sample latents at 1/8 of the size, previewed by a linear
/// latent-to-RGB projection and decoded by the VAE at the end (<see cref="LatentImage"/>).
/// </summary>
public sealed class TextToImage : IFrameSource, IDisposable
{
    public Gpu Gpu { get; }
    public ModelFolder Folder { get; }
    public string Model => Folder.Name;
    public string ModelHash => _hash.Value;

    readonly T5Tokenizer _tokenizer;
    readonly PtDitModel _transformer;
    T5Encoder? _encoder;
    readonly LatentImage? _latent;   // latent models only
    RectifiedFlowSampler? _sampler;
    (int h, int w, double cfg) _samplerKey;
    readonly Lazy<string> _hash;

    /// <summary>Loads every part of a model folder onto the device.</summary>
    public TextToImage(Gpu gpu, ModelFolder folder)
    {
        Gpu = gpu;
        Folder = folder;
        _hash = new Lazy<string>(folder.Hash);
        _tokenizer = T5Tokenizer.FromFolder(folder.Tokenizer);
        _encoder = T5Encoder.Load(gpu, folder.TextEncoder);
        try
        {
            _transformer = PtDitModel.Load(gpu, folder.Transformer);
            try
            {
                if (!folder.IsPixelSpace) _latent = new LatentImage(gpu, folder.Vae!);
            }
            catch
            {
                _transformer.Dispose();
                throw;
            }
        }
        catch
        {
            _encoder.Dispose();
            throw;
        }
        if (_transformer.Config.CaptionChannels != _encoder.Config.DModel)
            throw new InvalidDataException($"model '{folder.Name}': the transformer expects caption_channels = {_transformer.Config.CaptionChannels}, the text encoder gives d_model = {_encoder.Config.DModel}");
    }

    /// <summary>The settings a generation uses when the user gives none: the model's defaults.</summary>
    public GenerationSettings Defaults => new()
    {
        Negative = Folder.NegativePrompt,
        Steps = Folder.Steps,
        Cfg = Folder.Cfg,
        Width = Folder.Width,
        Height = Folder.Height,
    };

    /// <summary>Throws with the allowed sizes when the transformer cannot make an image of this size.</summary>
    public void CheckSize(int width, int height)
    {
        int f = PixelsPerLatent;
        if (height % f != 0 || width % f != 0)
            throw new ArgumentException($"image size {width}x{height} must be a multiple of {f} (the VAE's pixels per latent)");
        _transformer.Config.CheckLatentSize(1, height / f, width / f, "image");
    }

    /// <summary>Image pixels per sampled position: 1 in pixel space, the VAE's spatial factor in latent space.</summary>
    int PixelsPerLatent => _latent?.Factor ?? 1;

    public void Generate(GenerationSettings settings, Action<Frame> onFrame, CancellationToken cancel)
    {
        settings.Validated();
        CheckSize(settings.Width, settings.Height);
        var c = _transformer.Config;
        if (_latent is null && c.InChannels != 3) throw new InvalidDataException($"a pixel-space transformer must have in_channels = 3 (RGB), this one has {c.InChannels}");
        if (_latent is not null && c.InChannels != _latent.Vae.Config.EmbedDim)
            throw new InvalidDataException($"the transformer has in_channels = {c.InChannels}, the VAE decodes embed_dim = {_latent.Vae.Config.EmbedDim} latent channels");
        int f = PixelsPerLatent;

        // Text side: [cond; uncond] encoded in one batch; the encoder is reloaded if an earlier run released it.
        if (_encoder is null || _encoder.WeightBytes == 0)
        {
            _encoder?.Dispose();
            _encoder = T5Encoder.Load(Gpu, Folder.TextEncoder);
        }
        using var text = TextConditioning.Encode(_tokenizer, _encoder, [settings.Prompt], settings.Negative, Folder.MaxLength, Folder.CleanCaption);

        var sampler = Sampler(settings.Height / f, settings.Width / f, settings.Cfg);
        sampler.SetText(text.Embeddings, text.Mask);
        var options = new SamplerOptions
        {
            Steps = settings.Steps,
            CfgScale = settings.Cfg,
            NumTrainSteps = Folder.NumTrainSteps,
            UseTimestepTransform = Folder.UseTimestepTransform,
            TransformScale = (float)Folder.TransformScale,
        };
        var schedule = new RectifiedFlowSchedule(options, settings.Height, settings.Width);
        var noise = GaussianNoise.Generate(unchecked((ulong)settings.Seed), sampler.Z.Elements);
        Func<Tensor> preview = _latent is null ? () => sampler.Estimate.Reshape(3, settings.Height, settings.Width) : () => _latent.Preview(sampler.Estimate);
        var clock = Stopwatch.StartNew();
        sampler.Sample(schedule, noise, done =>
        {
            double seconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            onFrame(new Frame(preview(), done, schedule.Steps, seconds, IsFinal: false));
        }, cancel);
        var image = _latent is null ? sampler.Z.Reshape(3, settings.Height, settings.Width) : _latent.Decode(sampler.Z);
        onFrame(new Frame(image, schedule.Steps, schedule.Steps, 0, IsFinal: true));
    }

    /// <summary>Runs one generation and returns the image as interleaved RGB bytes [H, W, 3];
    /// <paramref name="progress"/> gets (step, steps, seconds of that step).</summary>
    public byte[] GenerateRgb(GenerationSettings settings, Action<int, int, double>? progress = null, CancellationToken cancel = default)
    {
        byte[]? rgb = null;
        Generate(settings, frame =>
        {
            if (frame.IsFinal) rgb = Rgb8.FromPlanes(frame.Image.ToArray(), settings.Width, settings.Height);
            else progress?.Invoke(frame.Step, frame.Steps, frame.SecondsPerStep);
        }, cancel);
        return rgb!;
    }

    /// <summary>The PNG metadata of an image made with these settings by this model.</summary>
    public PngMetadata Metadata(GenerationSettings settings) => new(settings, Model, ModelHash, ModelFolder.EngineVersion);

    /// <summary>The sampler for a size and guidance scale, recorded once and kept while they stay the same.</summary>
    RectifiedFlowSampler Sampler(int height, int width, double cfg)
    {
        if (_sampler is not null && _samplerKey == (height, width, cfg)) return _sampler;
        _sampler?.Dispose();
        _sampler = null;
        _sampler = new RectifiedFlowSampler(_transformer, 1, 1, height, width, Folder.MaxLength, cfg);
        _samplerKey = (height, width, cfg);
        return _sampler;
    }

    public void Dispose()
    {
        _sampler?.Dispose();
        _transformer.Dispose();
        _encoder?.Dispose();
        _latent?.Dispose();
    }
}
