using T2X.Vulkan.Pipelines;

namespace T2X.Vulkan.Presentation;

/// <summary>
/// One image on the device, handed to a viewer while a generation runs.
/// <see cref="Image"/> is f32 [3, H, W], RGB planes, values nominally in [-1, 1] (1 = white), as the VAE decoder
/// and a pixel model's clean-image estimate produce them; display and PNG clamp to [-1, 1] and map to
/// round((x + 1) / 2 · 255).
/// </summary>
/// <param name="Step">1-based sampler step this preview follows; equals <paramref name="Steps"/> for the final image.</param>
/// <param name="SecondsPerStep">Wall-clock seconds of the last sampler step (0 when unknown).</param>
/// <param name="IsFinal">The finished image (after the last step and the decoder) rather than a preview.</param>
internal readonly record struct Frame(Tensor Image, int Step, int Steps, double SecondsPerStep, bool IsFinal);

/// <summary>
/// Something that generates images on the device and shows its progress: the text-to-image pipeline, or
/// <see cref="SyntheticSource"/> for development and tests.
/// Previews should be cheap. A pixel-space model shows its current estimate of the clean image,
/// x̂0 = z + (t'/T)·v for the rectified flow before step i's update (v points from noise to data, docs/ptdit.md §10.5; one
/// <see cref="Kernels.Add"/> with alpha = t'_i/T); a latent model shows a
/// linear latent-to-RGB projection (<see cref="Kernels.LatentRgb"/>, at latent resolution: the viewer scales
/// any size to the window) and decodes only the final image.
/// </summary>
internal interface IFrameSource
{
    /// <summary>The device the frames live on (the viewer presents from the same device).</summary>
    Gpu Gpu { get; }

    /// <summary>Model name written into saved PNGs.</summary>
    string Model { get; }

    /// <summary>Hash of the model's weights written into saved PNGs ("" when unknown).</summary>
    string ModelHash { get; }

    /// <summary>
    /// Runs one whole generation on the calling thread (the viewer calls it from its own worker thread).
    /// Calls <paramref name="onFrame"/> once after every sampler step with a preview, then once with the final
    /// image. The frame's tensor only has to stay valid during the call: the viewer copies it on the device
    /// before returning, so the source may overwrite it in the next step. The call may block briefly (until the
    /// previous frame was presented). Between steps the source checks <paramref name="cancel"/> and throws
    /// <see cref="OperationCanceledException"/> when it is set (a new prompt or seed was asked for).
    /// </summary>
    void Generate(GenerationSettings settings, Action<Frame> onFrame, CancellationToken cancel);
}
