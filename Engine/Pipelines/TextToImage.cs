using System.Diagnostics;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Presentation;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Text;

namespace T2X.Vulkan.Pipelines;

/// <summary>What one stage of the last generation took: wall-clock seconds (loading included) and the device peak.</summary>
public sealed record StageRun(string Name, double Seconds, long PeakBytes);

/// <summary>
/// Text to image (or video) on the device: caption cleaning → tokenizer → T5 encoder → PT-DiT rectified-flow sampler
/// with classifier-free guidance → image. Everything between the tokenizer and the final image stays on the device;
/// after each step the clean-image estimate is handed out as a preview (the viewer shows it).
/// Pixel-space models sample the image itself; latent models sample latents at 1/8 of the size, previewed by a linear
/// latent-to-RGB projection and decoded by the VAE at the end (<see cref="LatentImage"/>).
/// Weights are loaded when a stage first needs them. Each generation follows a <see cref="GenerationPlan"/> for the
/// device memory budget: when all stages fit together they stay loaded between generations; otherwise each stage
/// releases its weights before the next loads (T5, streamed block by block when it alone would not fit, is released
/// before the transformer loads; the transformer before the VAE decodes).
/// </summary>
internal sealed class TextToImage : IFrameSource, IDisposable
{
    public Gpu Gpu { get; }
    public ModelFolder Folder { get; }
    public ModelParts Parts { get; }
    public string Model => Folder.Name;
    public string ModelHash => _hash.Value;
    /// <summary>Device memory the plans keep within (bytes): given, else the device's local heap.</summary>
    public long MemoryBudget { get; }
    /// <summary>The plan and the stages of the last generation.</summary>
    public GenerationPlan? LastPlan { get; private set; }
    public IReadOnlyList<StageRun> LastStages => _stages;
    /// <summary>Latent models: the sampled latents [1, E, T, h, w] of the last generation (host copy, as the VAE got them).</summary>
    public (float[] Values, long[] Shape)? LastLatents { get; private set; }

    readonly T5Tokenizer _tokenizer;
    T5Encoder? _encoder;
    PtDitModel? _transformer;
    readonly LatentImage? _latent;   // latent models only
    RectifiedFlowSampler? _sampler;
    readonly Lazy<string> _hash;
    readonly List<StageRun> _stages = [];

    /// <summary>Reads the model's configs and tokenizer and checks that the parts fit together; weights load when a
    /// generation needs them.</summary>
    public TextToImage(Gpu gpu, ModelFolder folder, long? memoryBudget = null)
    {
        if (memoryBudget is <= 0) throw new ArgumentException($"memory budget must be positive, got {memoryBudget} bytes");
        Gpu = gpu;
        Folder = folder;
        Parts = ModelParts.Read(folder);
        MemoryBudget = memoryBudget ?? (long)Math.Min(gpu.Info.DeviceLocalBytes, long.MaxValue);
        _hash = new Lazy<string>(folder.Hash);
        _tokenizer = T5Tokenizer.FromFolder(folder.Tokenizer);
        if (Parts.Vae is not null) _latent = new LatentImage(gpu, folder.Vae!, Parts.Vae);
    }

    /// <summary>The settings the viewer starts from: the model's defaults, as a still image (the frame source shows images).</summary>
    public GenerationSettings Defaults => Folder.Defaults with { Frames = 1 };

    /// <summary>Throws with the allowed sizes when the model cannot make this many frames of this size.</summary>
    public void CheckSize(int width, int height, int frames = 1) => Parts.CheckSize(width, height, frames);

    /// <summary>The plan for a generation with these settings (headers only, nothing loaded).</summary>
    public GenerationPlan Plan(GenerationSettings settings)
    {
        settings.Validated();
        if (LastPlan is { } p && (p.Width, p.Height, p.Frames) == (settings.Width, settings.Height, settings.Frames)) return p;
        return GenerationPlan.Make(Folder, settings.Width, settings.Height, settings.Frames, MemoryBudget);
    }

    /// <summary>One still image for the viewer: a preview after every step, then the final image [3, H, W].</summary>
    public void Generate(GenerationSettings settings, Action<Frame> onFrame, CancellationToken cancel)
    {
        if (settings.Frames != 1) throw new ArgumentException($"the frame source makes still images; {settings.Frames} frames need GenerateFrames");
        var image = Run(settings, previews: true, (step, steps, seconds, preview) => onFrame(new Frame(preview(), step, steps, seconds, IsFinal: false)), cancel);
        onFrame(new Frame(image.Reshape(3, settings.Height, settings.Width), settings.Steps, settings.Steps, 0, IsFinal: true));
    }

    /// <summary>Runs one generation and returns the image as interleaved RGB bytes [H, W, 3];
    /// <paramref name="progress"/> gets (step, steps, seconds of that step).</summary>
    public byte[] GenerateRgb(GenerationSettings settings, Action<int, int, double>? progress = null, CancellationToken cancel = default)
    {
        if (settings.Frames != 1) throw new ArgumentException($"GenerateRgb makes one image; {settings.Frames} frames need GenerateFrames");
        return GenerateFrames(settings, progress, cancel)[0];
    }

    /// <summary>Runs one generation and returns every frame as interleaved RGB bytes [H, W, 3] (one for an image).</summary>
    public IReadOnlyList<byte[]> GenerateFrames(GenerationSettings settings, Action<int, int, double>? progress = null, CancellationToken cancel = default) =>
        GenerateFrames(settings, progress, preview: null, cancel);

    /// <summary>As <see cref="GenerateFrames(GenerationSettings, Action{int, int, double}?, CancellationToken)"/>, and after
    /// every step, when <paramref name="preview"/> is given, the step's clean-image estimate as the viewer shows it (a
    /// latent model's at latent resolution, its first frame for a video), read back as interleaved RGB bytes:
    /// (step, width, height, rgb). Called on the generating thread after <paramref name="progress"/>.</summary>
    public IReadOnlyList<byte[]> GenerateFrames(GenerationSettings settings, Action<int, int, double>? progress, Action<int, int, int, byte[]>? preview,
                                                CancellationToken cancel)
    {
        var video = Run(settings, previews: preview is not null, (step, steps, seconds, estimate) =>
        {
            progress?.Invoke(step, steps, seconds);
            if (preview is null) return;
            // [3, T·h, w], the frames one under the other: the first frame's rows.
            var values = estimate().ToArray();
            int w = settings.Width / Parts.PixelsPerLatent, h = settings.Height / Parts.PixelsPerLatent, plane = values.Length / 3;
            var first = new float[3 * h * w];
            for (int c = 0; c < 3; c++) Array.Copy(values, (long)c * plane, first, (long)c * h * w, h * w);
            preview(step, w, h, Rgb8.FromPlanes(first, w, h));
        }, cancel).ToArray();
        int plane = settings.Width * settings.Height, frames = settings.Frames;
        var result = new List<byte[]>();
        var chw = new float[3 * plane];
        for (int t = 0; t < frames; t++)
        {
            // [3, T, H, W] → frame t's planes [3, H, W]
            for (int c = 0; c < 3; c++) Array.Copy(video, ((long)c * frames + t) * plane, chw, (long)c * plane, plane);
            result.Add(Rgb8.FromPlanes(chw, settings.Width, settings.Height));
        }
        return result;
    }

    /// <summary>The stages of one generation. Returns the result [3, T, H, W] on the device, valid until the next call.
    /// <paramref name="afterStep"/> gets (step, steps, seconds, a function that makes the preview); <paramref name="previews"/>:
    /// that function will be called.</summary>
    Tensor Run(GenerationSettings settings, bool previews, Action<int, int, double, Func<Tensor>> afterStep, CancellationToken cancel)
    {
        var plan = Plan(settings);
        LastPlan = plan;
        _stages.Clear();
        // The last generation's sampler (its activations hold the pixel-space result) would sit beside the text
        // encoder's: the plan counts each stage's activations alone, so every generation starts without it.
        DropSampler();
        int f = Parts.PixelsPerLatent, t = plan.LatentFrames, h = settings.Height / f, w = settings.Width / f;
        bool keep = plan.KeepResident;
        if (!keep)
        {
            // Only the stage that runs holds weights: drop what an earlier generation left.
            _transformer?.Dispose();
            _transformer = null;
            _latent?.ReleaseDecoder();
        }
        // A fitted preview projection needs the decoder: fit it now rather than beside the transformer.
        if (previews) _latent?.PrepareProjection(releaseDecoder: !keep);

        // 1. Text: [cond; uncond] encoded in one batch.
        var clock = Stopwatch.StartNew();
        Gpu.ResetPeak();
        if (_encoder is null || _encoder.WeightBytes == 0 || _encoder.Streamed != plan.StreamTextEncoder)
        {
            _encoder?.Dispose();
            _encoder = null;
            _encoder = T5Encoder.Load(Gpu, Folder.TextEncoder, plan.StreamTextEncoder);
        }
        var text = TextConditioning.Encode(_tokenizer, _encoder, [settings.Prompt], settings.Negative, Folder.MaxLength, Folder.CleanCaption, releaseEncoder: !keep);
        if (!keep)
        {
            _encoder.Dispose();
            _encoder = null;
        }
        EndStage(plan.Stages[0].Name, clock);

        // 2. Transformer: the sampler from noise to the sample (latents or pixels).
        RectifiedFlowSampler sampler;
        try
        {
            _transformer ??= PtDitModel.Load(Gpu, Folder.Transformer);
            sampler = _sampler = new RectifiedFlowSampler(_transformer, 1, t, h, w, Folder.MaxLength, settings.Cfg);
            sampler.SetText(text.Embeddings, text.Mask);
        }
        finally { text.Dispose(); }
        var options = new SamplerOptions
        {
            Steps = settings.Steps,
            CfgScale = settings.Cfg,
            NumTrainSteps = Folder.NumTrainSteps,
            UseTimestepTransform = Folder.UseTimestepTransform,
            TransformScale = (float)Folder.TransformScale,
        };
        var schedule = new RectifiedFlowSchedule(options, settings.Height, settings.Width, settings.Frames);
        var noise = GaussianNoise.Generate(unchecked((ulong)settings.Seed), sampler.Z.Elements);
        Func<Tensor> preview = _latent is null ? () => sampler.Estimate.Reshape(3, t * h, w) : () => _latent.Preview(sampler.Estimate);
        var stepClock = Stopwatch.StartNew();
        sampler.Sample(schedule, noise, done =>
        {
            double seconds = stepClock.Elapsed.TotalSeconds;
            stepClock.Restart();
            afterStep(done, schedule.Steps, seconds, preview);
        }, cancel);
        if (_latent is null)
        {
            // Pixel space: the sample is the image; the transformer is released at the next generation if it must be.
            EndStage(plan.Stages[1].Name, clock);
            return sampler.Z.Reshape(3, t, h, w);
        }
        var latents = sampler.Z.ToArray();
        long[] shape = sampler.Z.Shape;
        LastLatents = (latents, shape);
        DropSampler();   // its activations would sit beside the decoder's
        if (!keep)
        {
            _transformer!.Dispose();
            _transformer = null;
        }
        EndStage(plan.Stages[1].Name, clock);

        // 3. VAE: latents to pixels.
        var image = _latent.Decode(latents, shape, plan.VaeDecode, releaseDecoder: !keep);
        EndStage(plan.Stages[2].Name, clock);
        return image;
    }

    void EndStage(string name, Stopwatch clock)
    {
        _stages.Add(new StageRun(name, clock.Elapsed.TotalSeconds, Gpu.PeakBytes));
        clock.Restart();
        Gpu.ResetPeak();
    }

    /// <summary>The PNG metadata of an image made with these settings by this model.</summary>
    public PngMetadata Metadata(GenerationSettings settings) => new(settings, Model, ModelHash, ModelFolder.EngineVersion);

    /// <summary>The sampler for a size and guidance scale, recorded once and kept while they stay the same.</summary>
    void DropSampler()
    {
        _sampler?.Dispose();
        _sampler = null;
    }

    public void Dispose()
    {
        DropSampler();
        _transformer?.Dispose();
        _encoder?.Dispose();
        _latent?.Dispose();
    }
}
