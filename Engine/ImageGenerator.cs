using System.Runtime.CompilerServices;
using System.Threading.Channels;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Pipelines;

namespace T2X.Vulkan;

/// <summary>What a program asks for: a prompt, and optionally everything else (absent fields take the model's defaults;
/// an absent seed is drawn at random and reported in the result).</summary>
public sealed record GenerationRequest(string Prompt)
{
    public string? NegativePrompt { get; init; }
    public long? Seed { get; init; }
    public int? Steps { get; init; }
    /// <summary>Classifier-free guidance scale.</summary>
    public double? Cfg { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    /// <summary>Hand out each step's clean-image estimate in <see cref="GenerationProgress.Preview"/> (cheap: one small
    /// read-back per step).</summary>
    public bool Previews { get; init; } = true;
}

/// <summary>A request that cannot be run as given; <see cref="Field"/> names the field (prompt, negative_prompt, seed,
/// steps, cfg, width, height).</summary>
public sealed class GenerationRequestException(string field, string message) : ArgumentException(message)
{
    public string Field { get; } = field;
}

/// <summary>A second generation was started on a generator that is still running one: one caller at a time per device.</summary>
public sealed class GeneratorBusyException(string message) : InvalidOperationException(message) { }

/// <summary>Interleaved 8-bit RGB pixels [height, width, 3].</summary>
public sealed record RgbImage(int Width, int Height, byte[] Rgb)
{
    /// <summary>The image as PNG bytes (no metadata).</summary>
    public byte[] ToPng() => PngMetadata.EncodePng(Rgb, Width, Height, null);
}

/// <summary>One sampler step done: 1-based <paramref name="Step"/> of <paramref name="Steps"/>, the wall-clock seconds it
/// took, and (when the request asked for previews) the clean-image estimate after it.</summary>
public sealed record GenerationProgress(int Step, int Steps, double Seconds, RgbImage? Preview);

/// <summary>A finished image and everything that made it (the same settings and model give the same pixels on the same
/// device).</summary>
public sealed record GeneratedImage(RgbImage Image, GenerationSettings Settings, PngMetadata Metadata)
{
    public int Width => Image.Width;
    public int Height => Image.Height;
    public long Seed => Settings.Seed;

    /// <summary>The PNG that <c>t2x generate</c> writes for these settings: the pixels and the settings as text chunks.</summary>
    public byte[] ToPng() => PngMetadata.EncodePng(Image.Rgb, Width, Height, Metadata);

    /// <summary>Writes the PNG (complete or not at all); an existing file is kept unless <paramref name="overwrite"/>
    /// (<see cref="Files.OutputExistsException"/>).</summary>
    public void Save(string path, bool overwrite = false) => Metadata.Save(path, Image.Rgb, Width, Height, overwrite);
}

/// <summary>Where and how a generator runs.</summary>
public sealed record GeneratorOptions
{
    /// <summary>Device index or name part (as <c>t2x devices</c> lists them); null: T2X_DEVICE, else the best device.</summary>
    public string? Device { get; init; }
    /// <summary>Device memory the generation plans keep within, in bytes; null: the device's local heap.</summary>
    public long? MemoryBudgetBytes { get; init; }
}

/// <summary>
/// The engine for a program: a text-to-image model on one Vulkan device.
/// <code>
/// using var generator = ImageGenerator.Open();   // the built-in model on the best device
/// var image = await generator.GenerateAsync(new GenerationRequest("a red circle in the center") { Seed = 1 },
///     new Progress&lt;GenerationProgress&gt;(p => Console.WriteLine($"step {p.Step}/{p.Steps}")));
/// image.Save("circle.png");
/// </code>
/// One generation at a time per generator (a device runs one): a call while another runs throws
/// <see cref="GeneratorBusyException"/>; queue requests, or open one generator per device. Weights load on the first
/// generation and stay loaded when the memory plan allows. When a generation fails (the device out of memory, say) the
/// exception is thrown to its caller and the next generation starts from a fresh pipeline.
/// </summary>
public sealed class ImageGenerator : IDisposable
{
    readonly Gpu _gpu;
    readonly long? _budget;
    TextToImage? _pipeline;
    int _busy;
    bool _disposed;

    public ModelFolder Folder { get; }
    /// <summary>The model's name (from its model_index.json).</summary>
    public string Model => Folder.Name;
    /// <summary>Hash of the model's weights, as PNG metadata records it (read once, on first use).</summary>
    public string ModelHash => Pipeline.ModelHash;
    public DeviceInfo Device => _gpu.Info;
    /// <summary>The settings a request's absent fields take: the model's defaults.</summary>
    public GenerationSettings Defaults => Folder.Defaults with { Frames = 1 };

    /// <summary>The model shipped with t2x (the folder <c>BuiltinModel</c> next to the program; the NuGet package puts it
    /// there).</summary>
    public static string BuiltinModel => ModelFolder.BuiltinPath;

    readonly bool _ownsGpu;

    ImageGenerator(Gpu gpu, ModelFolder folder, long? budget, bool ownsGpu)
    {
        _gpu = gpu;
        _ownsGpu = ownsGpu;
        Folder = folder;
        _budget = budget;
        _pipeline = new TextToImage(gpu, folder, budget);
    }

    /// <summary>Opens a model folder (null: the built-in model) on a device; reads configs and the tokenizer, loads no
    /// weights yet. Bad folders fail here with the file named.</summary>
    public static ImageGenerator Open(string? modelFolder = null, GeneratorOptions? options = null)
    {
        options ??= new GeneratorOptions();
        var folder = ModelFolder.Open(modelFolder ?? ModelFolder.BuiltinPath);
        var gpu = new Gpu(new GpuOptions { Device = options.Device });
        try { return new ImageGenerator(gpu, folder, options.MemoryBudgetBytes, ownsGpu: true); }
        catch
        {
            gpu.Dispose();
            throw;
        }
    }

    /// <summary>Opens a model folder (null: the built-in model) on a device the program has opened already (to run
    /// kernels beside it, say); the generator does not close that device.</summary>
    public static ImageGenerator Open(Gpu gpu, string? modelFolder = null, long? memoryBudgetBytes = null) =>
        new(gpu, ModelFolder.Open(modelFolder ?? ModelFolder.BuiltinPath), memoryBudgetBytes, ownsGpu: false);

    TextToImage Pipeline
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _pipeline ??= new TextToImage(_gpu, Folder, _budget);
        }
    }

    /// <summary>The complete settings of a request: its fields over the model's defaults, a random seed when it has none,
    /// each field checked (<see cref="GenerationRequestException"/> names the first bad one).</summary>
    public GenerationSettings Resolve(GenerationRequest request)
    {
        var d = Defaults;
        var s = d with
        {
            Prompt = request.Prompt ?? throw new GenerationRequestException("prompt", "prompt is required"),
            Negative = request.NegativePrompt ?? d.Negative,
            Seed = request.Seed ?? Random.Shared.NextInt64(0, 1L << 53),
            Steps = request.Steps ?? d.Steps,
            Cfg = request.Cfg ?? d.Cfg,
            Width = request.Width ?? d.Width,
            Height = request.Height ?? d.Height,
        };
        if (s.Steps < 1 || s.Steps > GenerationSettings.MaxSteps)
            throw new GenerationRequestException("steps", $"steps must be between 1 and {GenerationSettings.MaxSteps}, got {s.Steps}");
        if (!(Math.Abs(s.Cfg) <= GenerationSettings.MaxCfg))
            throw new GenerationRequestException("cfg", $"cfg must be a number from {-GenerationSettings.MaxCfg} to {GenerationSettings.MaxCfg}, got {s.Cfg}");
        foreach (var (field, value) in new[] { ("width", s.Width), ("height", s.Height) })
            if (value < 1 || value > GenerationSettings.MaxSide)
                throw new GenerationRequestException(field, $"{field} must be between 1 and {GenerationSettings.MaxSide} pixels, got {value}");
        try { Pipeline.CheckSize(s.Width, s.Height); }
        catch (ArgumentException e)
        {
            bool widthOk = true;
            try { Pipeline.CheckSize(s.Width, d.Height); } catch (ArgumentException) { widthOk = false; }
            throw new GenerationRequestException(widthOk ? "height" : "width", e.Message);
        }
        return s.Validated();
    }

    /// <summary>The memory plan of a generation with these settings (headers only, nothing loaded).</summary>
    public GenerationPlan Plan(GenerationSettings settings) => Pipeline.Plan(settings);

    /// <summary>Generates one image. <paramref name="progress"/> is called on the generating thread after every sampler
    /// step, in order (a <see cref="Progress{T}"/> posts to its own context instead). Cancelling stops within a step with
    /// <see cref="OperationCanceledException"/>.</summary>
    public Task<GeneratedImage> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancel = default) =>
        GenerateAsync(Resolve(request), progress, request.Previews, cancel);

    /// <summary>Generates one image from complete settings (from <see cref="Resolve"/>, or a PNG's metadata).</summary>
    public Task<GeneratedImage> GenerateAsync(GenerationSettings settings, IProgress<GenerationProgress>? progress, bool previews, CancellationToken cancel = default)
    {
        settings.Validated();
        if (settings.Frames != 1) throw new ArgumentException($"a generator makes still images; got {settings.Frames} frames");
        Enter();
        try
        {
            // Always started (not given the token), so the busy mark is always cleared by the task itself.
            return Task.Factory.StartNew(() =>
            {
                try
                {
                    cancel.ThrowIfCancellationRequested();
                    return Generate(settings, progress, previews, cancel);
                }
                finally { Volatile.Write(ref _busy, 0); }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch
        {
            Volatile.Write(ref _busy, 0);
            throw;
        }
    }

    /// <summary>The generation's steps as they happen (each with its preview when the request asks for previews), then
    /// the finished image as the last item's <see cref="GenerationStep.Image"/>.</summary>
    public async IAsyncEnumerable<GenerationStep> GenerateStepsAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        var steps = Channel.CreateUnbounded<GenerationProgress>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var run = GenerateAsync(Resolve(request), new Callback(p => steps.Writer.TryWrite(p)), request.Previews, cancel);
        _ = run.ContinueWith(_ => steps.Writer.TryComplete(), TaskScheduler.Default);
        await foreach (var p in steps.Reader.ReadAllAsync(CancellationToken.None))
            yield return new GenerationStep(p, null);
        yield return new GenerationStep(null, await run);
    }

    void Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
            throw new GeneratorBusyException($"this generator is already running a generation on {_gpu.Info.Name}: one caller at a time per device " +
                                             "(await the first, queue the requests, or open a generator per device)");
    }

    GeneratedImage Generate(GenerationSettings settings, IProgress<GenerationProgress>? progress, bool previews, CancellationToken cancel)
    {
        var pipeline = Pipeline;
        try
        {
            int steps = settings.Steps;
            double last = 0;
            Action<int, int, int, byte[]>? preview = previews && progress is not null
                ? (step, w, h, rgb) => progress.Report(new GenerationProgress(step, steps, last, new RgbImage(w, h, rgb)))
                : null;
            var rgb = pipeline.GenerateFrames(settings, (step, total, seconds) =>
            {
                last = seconds;
                if (preview is null) progress?.Report(new GenerationProgress(step, total, seconds, null));
            }, preview, cancel).Frames[0];
            return new GeneratedImage(new RgbImage(settings.Width, settings.Height, rgb), settings, pipeline.Metadata(settings));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The device may have run out of memory part way: the next generation starts from a fresh pipeline.
            _pipeline = null;
            try { pipeline.Dispose(); } catch (Exception) { }
            throw;
        }
    }

    sealed class Callback(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }

    public void Dispose()
    {
        if (_disposed) return;
        if (Volatile.Read(ref _busy) != 0) throw new GeneratorBusyException("a generation is still running: cancel it and await it before disposing the generator");
        _disposed = true;
        _pipeline?.Dispose();
        if (_ownsGpu) _gpu.Dispose();
    }
}

/// <summary>One item of <see cref="ImageGenerator.GenerateStepsAsync"/>: a step done, or (last) the finished image.</summary>
public sealed record GenerationStep(GenerationProgress? Progress, GeneratedImage? Image);
