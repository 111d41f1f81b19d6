namespace T2X.Vulkan.Pipelines;

/// <summary>
/// What one text-to-image generation is asked for: everything that, with the model, determines the image.
/// <c>t2x generate</c>, <c>t2x view</c> and the PNG metadata (<see cref="Imaging.PngMetadata"/>) share it.
/// </summary>
public sealed record GenerationSettings
{
    public string Prompt { get; init; } = "";
    public string Negative { get; init; } = "";
    public long Seed { get; init; }
    // Defaults: the released model's (docs/ptdit.md §1: num_inference_steps 30, cfg_scale 4.0, 1024x1024); a model may set its own.
    public int Steps { get; init; } = 30;
    /// <summary>Classifier-free guidance scale.</summary>
    public double Cfg { get; init; } = 4.0;
    public int Width { get; init; } = 1024;
    public int Height { get; init; } = 1024;
    /// <summary>Frames of a video (latent models with a time axis); 1 for an image.</summary>
    public int Frames { get; init; } = 1;

    /// <summary>Bounds on what may be asked for, checked before anything is allocated (every command and model file uses these).</summary>
    public const int MaxSteps = 1000, MaxSide = 8192, MaxFrames = 1000;
    /// <summary>Guidance scales beyond this overflow float32 activations (a black image): refused.</summary>
    public const double MaxCfg = 1000;

    /// <summary>Throws with a message naming the bad field.</summary>
    public GenerationSettings Validated()
    {
        if (Steps < 1 || Steps > MaxSteps) throw new ArgumentException($"steps must be between 1 and {MaxSteps}, got {Steps}");
        if (Width < 1 || Height < 1 || Width > MaxSide || Height > MaxSide)
            throw new ArgumentException($"image size must be between 1 and {MaxSide} pixels per side, got {Width}x{Height}");
        if (Frames < 1 || Frames > MaxFrames) throw new ArgumentException($"frames must be between 1 and {MaxFrames}, got {Frames}");
        if (!(Math.Abs(Cfg) <= MaxCfg)) throw new ArgumentException($"cfg must be a number from {-MaxCfg} to {MaxCfg}, got {Cfg}");
        return this;
    }
}
