using System.Diagnostics;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Presentation;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Text;

namespace T2X.Vulkan.Pipelines;

/// <summary>What one stage of a generation took: wall-clock seconds (loading included) and the device peak.</summary>
public sealed record StageRun(string Name, double Seconds, long PeakBytes);

/// <summary>
/// What one generation of B requests made and what it took: each request's frames as interleaved RGB bytes [H, W, 3],
/// the same result as f32 [B, 3, T, H, W] in [−1, 1] (tests compare it bit for bit), the plan it followed and each
/// stage's time and device peak.
/// </summary>
internal sealed record GenerationResult(IReadOnlyList<IReadOnlyList<byte[]>> Images, float[] Samples, GenerationPlan Plan, IReadOnlyList<StageRun> Stages)
{
    /// <summary>The first request's frames: the only request's outside a batch (one for an image).</summary>
    public IReadOnlyList<byte[]> Frames => Images[0];
    /// <summary>Latent models: the sampled latents [B, E, T, h, w] (host copy, as the VAE got them); null in pixel space.</summary>
    public (float[] Values, long[] Shape)? Latents { get; init; }
}

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
    /// <summary>The model's configs, read once: every plan and size check uses them.</summary>
    public ModelParts Parts { get; }
    public string Model => Folder.Name;
    public string ModelHash => _hash.Value;
    /// <summary>Device memory the plans keep within (bytes): given, else the device's local heap.</summary>
    public long MemoryBudget { get; }
    readonly T5Tokenizer _tokenizer;
    T5Encoder? _encoder;
    PtDitModel? _transformer;
    readonly LatentImage? _latent;   // latent models only
    RectifiedFlowSampler? _sampler;
    readonly Lazy<string> _hash;
    GenerationPlan? _plan;   // the last generation's: the next one of the same size reuses it

    /// <summary>Reads the model's configs and tokenizer and checks that the parts fit together; weights load when a
    /// generation needs them.</summary>
    public TextToImage(Gpu gpu, ModelFolder folder, long? memoryBudget = null) : this(gpu, ModelParts.Read(folder), memoryBudget) { }

    /// <summary>As <see cref="TextToImage(Gpu, ModelFolder, long?)"/> with the configs already read (and checked).</summary>
    public TextToImage(Gpu gpu, ModelParts parts, long? memoryBudget = null)
    {
        if (memoryBudget is <= 0) throw new ArgumentException($"memory budget must be positive, got {memoryBudget} bytes");
        Gpu = gpu;
        Parts = parts;
        Folder = parts.Folder;
        MemoryBudget = memoryBudget ?? (long)Math.Min(gpu.Info.DeviceLocalBytes, long.MaxValue);
        _hash = new Lazy<string>(Folder.Hash);
        _tokenizer = T5Tokenizer.FromFolder(Folder.Tokenizer);
        if (Parts.Vae is not null) _latent = new LatentImage(gpu, Folder.Vae!, Parts.Vae);
    }

    /// <summary>The settings the viewer starts from: the model's defaults, as a still image (the frame source shows images).</summary>
    public GenerationSettings Defaults => Folder.Defaults with { Frames = 1 };

    /// <summary>Throws with the allowed sizes when the model cannot make this many frames of this size.</summary>
    public void CheckSize(int width, int height, int frames = 1) => Parts.CheckSize(width, height, frames);

    /// <summary>The plan for a generation with these settings (headers only, nothing loaded); <paramref name="batch"/>
    /// requests of this size made in one pass.</summary>
    public GenerationPlan Plan(GenerationSettings settings, int batch = 1)
    {
        settings.Validated();
        if (_plan is { } p && (p.Width, p.Height, p.Frames, p.Batch) == (settings.Width, settings.Height, settings.Frames, batch)) return p;
        return GenerationPlan.Make(Parts, settings.Width, settings.Height, settings.Frames, MemoryBudget, batch);
    }

    /// <summary>How many requests of this size one pass should take: the largest batch up to <paramref name="limit"/>
    /// that fits the memory budget (<see cref="GenerationPlan.ChooseBatch(ModelFolder, int, int, int, long, int)"/>).</summary>
    public int ChooseBatch(GenerationSettings settings, int limit)
    {
        settings.Validated();
        return GenerationPlan.ChooseBatch(Parts, settings.Width, settings.Height, settings.Frames, MemoryBudget, limit);
    }

    /// <summary>One still image for the viewer: a preview after every step, then the final image [3, H, W].</summary>
    public void Generate(GenerationSettings settings, Action<Frame> onFrame, CancellationToken cancel)
    {
        if (settings.Frames != 1) throw new ArgumentException($"the frame source makes still images; {settings.Frames} frames need GenerateFrames");
        var image = Run([settings], previews: true, (step, steps, seconds, preview) => onFrame(new Frame(preview(), step, steps, seconds, IsFinal: false)), cancel).Output;
        onFrame(new Frame(image.Reshape(3, settings.Height, settings.Width), settings.Steps, settings.Steps, 0, IsFinal: true));
    }

    /// <summary>Runs one generation and returns the image as interleaved RGB bytes [H, W, 3];
    /// <paramref name="progress"/> gets (step, steps, seconds of that step).</summary>
    public byte[] GenerateRgb(GenerationSettings settings, Action<int, int, double>? progress = null, CancellationToken cancel = default)
    {
        if (settings.Frames != 1) throw new ArgumentException($"GenerateRgb makes one image; {settings.Frames} frames need GenerateFrames");
        return GenerateFrames(settings, progress, cancel).Frames[0];
    }

    /// <summary>Runs one generation: its frames as interleaved RGB bytes [H, W, 3] (one for an image) in
    /// <see cref="GenerationResult.Frames"/>, with the plan and the stages.</summary>
    public GenerationResult GenerateFrames(GenerationSettings settings, Action<int, int, double>? progress = null, CancellationToken cancel = default)
        => GenerateBatch([settings], progress, cancel);

    /// <summary>As <see cref="GenerateFrames(GenerationSettings, Action{int, int, double}?, CancellationToken)"/>, and after
    /// every step, when <paramref name="preview"/> is given, the step's clean-image estimate as the viewer shows it (a
    /// latent model's at latent resolution, its first frame for a video), read back as interleaved RGB bytes:
    /// (step, width, height, rgb). Called on the generating thread after <paramref name="progress"/>.</summary>
    public GenerationResult GenerateFrames(GenerationSettings settings, Action<int, int, double>? progress, Action<int, int, int, byte[]>? preview,
                                           CancellationToken cancel)
    {
        if (preview is null) return GenerateFrames(settings, progress, cancel);
        var pass = Run([settings], previews: true, (step, steps, seconds, estimate) =>
        {
            progress?.Invoke(step, steps, seconds);
            // [3, T·h, w], the frames one under the other: the first frame's rows.
            var values = estimate().ToArray();
            int w = settings.Width / Parts.PixelsPerLatent, h = settings.Height / Parts.PixelsPerLatent, plane = values.Length / 3;
            var first = new float[3 * h * w];
            for (int c = 0; c < 3; c++) Array.Copy(values, (long)c * plane, first, (long)c * h * w, h * w);
            preview(step, w, h, Rgb8.FromPlanes(first, w, h));
        }, cancel);
        return Result([settings], pass);
    }

    /// <summary>
    /// Generates several requests in one pass: T5 encodes every prompt and negative prompt as one batch, the sampler
    /// runs the conditional and unconditional rows of every request in each forward, and the VAE decodes them
    /// together. The requests must share size, frames and steps; prompts, negative prompts, seeds and guidance scales
    /// may differ. Rows never mix: each result is byte for byte what the request generated alone gives (the VAE
    /// decodes in the tiles a single request would use). Returns, per request, its frames as interleaved RGB bytes
    /// [H, W, 3] in <see cref="GenerationResult.Images"/>; <paramref name="progress"/> gets (step, steps, seconds of
    /// that step) for the whole batch.
    /// </summary>
    public GenerationResult GenerateBatch(IReadOnlyList<GenerationSettings> requests, Action<int, int, double>? progress = null,
        CancellationToken cancel = default)
        => Result(requests, Run(requests, previews: false, (step, steps, seconds, _) => progress?.Invoke(step, steps, seconds), cancel));

    /// <summary>A pass's result read back, as samples and as each request's frames.</summary>
    static GenerationResult Result(IReadOnlyList<GenerationSettings> requests, Pass pass)
    {
        var samples = pass.Output.ToArray();
        return new GenerationResult(ToFrames(requests, samples), samples, pass.Plan, pass.Stages) { Latents = pass.Latents };
    }

    /// <summary>A batch's result f32 [B, 3, T, H, W] in [−1, 1] as each request's frames, interleaved RGB bytes [H, W, 3].</summary>
    static IReadOnlyList<IReadOnlyList<byte[]>> ToFrames(IReadOnlyList<GenerationSettings> requests, float[] video)
    {
        var first = requests[0];
        int plane = first.Width * first.Height, frames = first.Frames;
        var result = new List<IReadOnlyList<byte[]>>();
        var chw = new float[3 * plane];
        for (int b = 0; b < requests.Count; b++)
        {
            var images = new List<byte[]>();
            long sample = (long)b * 3 * frames * plane;
            for (int t = 0; t < frames; t++)
            {
                // [B, 3, T, H, W] → sample b, frame t's planes [3, H, W]
                for (int c = 0; c < 3; c++) Array.Copy(video, sample + ((long)c * frames + t) * plane, chw, (long)c * plane, plane);
                images.Add(Rgb8.FromPlanes(chw, first.Width, first.Height));
            }
            result.Add(images);
        }
        return result;
    }

    /// <summary>Throws with the field named unless the requests can share one pass (same size, frames and steps).</summary>
    public static void CheckBatch(IReadOnlyList<GenerationSettings> requests)
    {
        if (requests.Count == 0) throw new ArgumentException("a batch needs at least one request");
        if (requests.Count > GenerationPlan.MaxBatch) throw new ArgumentException($"a batch takes at most {GenerationPlan.MaxBatch} requests, got {requests.Count}");
        var a = requests[0].Validated();
        foreach (var r in requests.Skip(1))
        {
            r.Validated();
            if ((r.Width, r.Height, r.Frames) != (a.Width, a.Height, a.Frames))
                throw new ArgumentException($"requests in one batch must share the size: {a.Width}x{a.Height}x{a.Frames} and {r.Width}x{r.Height}x{r.Frames}");
            if (r.Steps != a.Steps) throw new ArgumentException($"requests in one batch must share the steps: {a.Steps} and {r.Steps}");
        }
    }

    /// <summary>One pass on the device: its result [B, 3, T, H, W] (valid until the next pass), the plan it followed, each
    /// stage's time and peak, and a latent model's sampled latents (host copy).</summary>
    readonly record struct Pass(Tensor Output, GenerationPlan Plan, IReadOnlyList<StageRun> Stages, (float[] Values, long[] Shape)? Latents);

    /// <summary>The stages of one generation of B requests. <paramref name="afterStep"/> gets (step, steps, seconds, a function that makes the preview of the
    /// first request); <paramref name="previews"/>: that function will be called.</summary>
    Pass Run(IReadOnlyList<GenerationSettings> requests, bool previews, Action<int, int, double, Func<Tensor>> afterStep, CancellationToken cancel)
    {
        CheckBatch(requests);
        var settings = requests[0];
        int batch = requests.Count;
        var plan = _plan = Plan(settings, batch);
        var stages = new List<StageRun>();
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

        // 1. Text: [cond × B; uncond × B] encoded in one batch.
        var clock = Stopwatch.StartNew();
        Gpu.ResetPeak();
        if (_encoder is null || _encoder.WeightBytes == 0 || _encoder.Streamed != plan.StreamTextEncoder)
        {
            _encoder?.Dispose();
            _encoder = null;
            _encoder = T5Encoder.Load(Gpu, Folder.TextEncoder, plan.StreamTextEncoder);
        }
        var text = TextConditioning.Encode(_tokenizer, _encoder, requests.Select(r => r.Prompt).ToArray(), requests.Select(r => r.Negative).ToArray(),
            Folder.MaxLength, Folder.CleanCaption, releaseEncoder: !keep);
        if (!keep)
        {
            _encoder.Dispose();
            _encoder = null;
        }
        EndStage(stages, plan.Stages[0].Name, clock);

        // 2. Transformer: the sampler from noise to the sample (latents or pixels), each request with its own guidance.
        RectifiedFlowSampler sampler;
        try
        {
            _transformer ??= PtDitModel.Load(Gpu, Folder.Transformer);
            sampler = _sampler = new RectifiedFlowSampler(_transformer, batch, t, h, w, text.Length, requests.Select(r => r.Cfg).ToArray());
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
        // Each request's noise from its own seed, as when it is generated alone.
        long perSample = sampler.Z.Elements / batch;
        var noise = new float[sampler.Z.Elements];
        for (int b = 0; b < batch; b++) GaussianNoise.Generate(unchecked((ulong)requests[b].Seed), perSample).CopyTo(noise, b * perSample);
        Func<Tensor> preview = _latent is null
            ? () => sampler.Estimate.Slice(0, 1).Reshape(3, t * h, w)
            : () => _latent.Preview(sampler.Estimate.Slice(0, 1));
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
            EndStage(stages, plan.Stages[1].Name, clock);
            return new Pass(sampler.Z.Reshape(batch, 3, t, h, w), plan, stages, null);
        }
        var latents = sampler.Z.ToArray();
        long[] shape = sampler.Z.Shape;
        DropSampler();   // its activations would sit beside the decoder's
        if (!keep)
        {
            _transformer!.Dispose();
            _transformer = null;
        }
        EndStage(stages, plan.Stages[1].Name, clock);

        // 3. VAE: latents to pixels, in the tiles one request alone would be decoded in (so the batch changes no pixel).
        var decode = batch == 1 ? plan.VaeDecode : Plan(settings).VaeDecode;
        var image = _latent.Decode(latents, shape, decode, releaseDecoder: !keep);
        EndStage(stages, plan.Stages[2].Name, clock);
        return new Pass(image, plan, stages, (latents, shape));
    }

    void EndStage(List<StageRun> stages, string name, Stopwatch clock)
    {
        stages.Add(new StageRun(name, clock.Elapsed.TotalSeconds, Gpu.PeakBytes));
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
