using T2X.Vulkan.Kernels;
using T2X.Vulkan.Pipelines;

namespace T2X.Vulkan.Presentation;

/// <summary>What a frame in the mailbox is: which generation, which step.</summary>
internal sealed record FrameInfo(int Generation, GenerationSettings Settings, int Step, int Steps, double SecondsPerStep, bool IsFinal);

/// <summary>
/// Hands frames from the sampler's thread to the window's thread. The sampler publishes each frame by copying
/// it on the device into the mailbox's own RGBA tensor [H, W, 4] (<see cref="PresentPack"/>: the layout the
/// presenter reads fastest), so the sampler may overwrite its tensor right away; the window shows the newest frame.
/// Publishing returns once the window has submitted the frame (at most <see cref="MaxWait"/> later), so every
/// step is presented once, and its drawing is queued before the sampler's next step rather than behind it.
/// While the window is minimised (<see cref="Paused"/>) frames replace each other without waiting and the newest
/// is shown on restore.
/// </summary>
/// <param name="wake">wakes the window's thread (a new frame is there)</param>
/// <param name="waitForReader">waits until the device no longer reads the shown frame (called before overwriting it)</param>
internal sealed class FrameMailbox(Gpu gpu, Action wake, Action waitForReader) : IDisposable
{
    readonly object _lock = new();
    OwnedTensor? _image;
    FrameInfo? _info;
    float[]? _final;
    long _version, _shownVersion;
    bool _paused;

    /// <summary>Longest a publish waits for the window to show its frame (a stuck window must not stop the sampler);
    /// a frame not shown by the next publish counts as dropped.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Frames replaced before they were ever shown.</summary>
    public int Dropped { get; private set; }

    /// <summary>Called on the sampler's thread for each frame; throws OperationCanceledException when cancelled.</summary>
    public void Publish(Frame frame, int generation, GenerationSettings settings, CancellationToken cancel)
    {
        var image = frame.Image;
        if (image.Rank != 3 || image.Shape[0] != 3 || image.DType != DType.F32)
            throw new ArgumentException($"a frame must be an f32 [3, H, W] image, got {image}");
        lock (_lock)
        {
            cancel.ThrowIfCancellationRequested();
            if (_version != _shownVersion) Dropped++;
            waitForReader();
            long[] shape = [image.Dim(1), image.Dim(2), 4];
            if (_image is null || !_image.Shape.SequenceEqual(shape)) OwnedTensor.Replace(ref _image, () => OwnedTensor.Create(gpu, DType.F32, shape));
            using (var seq = new Sequence(gpu))
            {
                PresentPack.Record(seq, image, _image!.T);
                seq.Run();
            }
            // The final image is kept on the host too, for saving without touching the device from the window thread.
            _final = frame.IsFinal ? image.ToArray() : null;
            _info = new FrameInfo(generation, settings, frame.Step, frame.Steps, frame.SecondsPerStep, frame.IsFinal);
            _version++;
            wake();
            var deadline = DateTime.UtcNow + MaxWait;
            while (_version != _shownVersion && !_paused && !cancel.IsCancellationRequested)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) break;
                Monitor.Wait(_lock, left < TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50));
            }
        }
        cancel.ThrowIfCancellationRequested();
    }

    /// <summary>Minimised window: publishing does not wait for frames to be shown.</summary>
    public bool Paused
    {
        set { lock (_lock) { _paused = value; Monitor.PulseAll(_lock); } }
    }

    /// <summary>
    /// On the window's thread: calls <paramref name="show"/>(image [H, W, 4], info, fresh) with the newest frame when it has
    /// not been shown yet (fresh), or again when <paramref name="redraw"/> is set. The image stays untouched
    /// until the next publish (which first calls waitForReader); show returns whether the frame was submitted.
    /// </summary>
    public void ShowNewest(Func<Tensor, FrameInfo, bool, bool> show, bool redraw)
    {
        lock (_lock)
        {
            if (_image is null || _info is null) return;
            bool fresh = _version != _shownVersion;
            if (!fresh && !redraw) return;
            if (show(_image.T, _info, fresh))
            {
                _shownVersion = _version;
                Monitor.PulseAll(_lock);
            }
        }
    }

    /// <summary>The newest frame's info (null before the first frame).</summary>
    public FrameInfo? Newest
    {
        get { lock (_lock) return _info; }
    }

    /// <summary>The newest frame when it is a final image: f32 [3, H, W] on the host, with its info.</summary>
    public (float[] Pixels, FrameInfo Info)? Final
    {
        get { lock (_lock) return _final is null || _info is null ? null : (_final, _info); }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            waitForReader();
            _image?.Dispose();
            _image = null;
        }
    }
}
