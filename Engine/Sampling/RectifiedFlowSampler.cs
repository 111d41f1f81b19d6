using T2X.Vulkan.Kernels;
using T2X.Vulkan.Models.PtDit;

namespace T2X.Vulkan.Sampling;

/// <summary>
/// The official rectified-flow sampling loop on the device (docs/ptdit.md §10): each step runs the predictor on
/// [z; z] with [cond; uncond] text (one batch of 2B), combines the first in_channels outputs with classifier-free
/// guidance (one scale per sample) and takes an Euler step. One command buffer holds a whole step and is resubmitted;
/// between steps only the timestep sinusoid and dt are rewritten. Prepared once per (size, batch, text length) and
/// reusable. The B samples never mix: each is what the same request sampled alone gives, to the bit.
/// </summary>
internal sealed class RectifiedFlowSampler : IDisposable
{
    public PtDitModel Model { get; }
    public int Batch { get; }
    /// <summary>The classifier-free guidance scale of each sample.</summary>
    public IReadOnlyList<double> Guidance { get; private set; } = [];
    /// <summary>The latents z [B, C, F, H, W]: the noise at the start, the sample at the end.</summary>
    public Tensor Z { get; }
    /// <summary>After each step, the estimate of the clean sample, x̂0 = z + t_next·v (previews; equals z after the last step).</summary>
    public Tensor Estimate { get; }

    readonly PtDitRun _run;
    readonly Tensor _dt, _estimateDt, _guidance;
    readonly Sequence _step;
    readonly List<IDisposable> _owned = [];

    /// <summary>A sampler whose samples all use one guidance scale.</summary>
    public RectifiedFlowSampler(PtDitModel model, int batch, int frames, int height, int width, int textLength, double guidance)
        : this(model, batch, frames, height, width, textLength, Enumerable.Repeat(guidance, Math.Max(batch, 0)).ToArray()) { }

    /// <summary>A sampler with one guidance scale per sample (<paramref name="guidance"/> holds <paramref name="batch"/> values).</summary>
    public RectifiedFlowSampler(PtDitModel model, int batch, int frames, int height, int width, int textLength, IReadOnlyList<double> guidance)
    {
        var c = model.Config;
        if (c.OutChannels < c.InChannels)
            throw new ArgumentException($"the sampler uses the first in_channels = {c.InChannels} output channels, but out_channels is {c.OutChannels}");
        if (batch < 1) throw new ArgumentException($"batch must be at least 1, got {batch}");
        if (guidance.Count != batch) throw new ArgumentException($"{guidance.Count} guidance scales for a batch of {batch}");
        (Model, Batch) = (model, batch);
        var gpu = model.Gpu;
        try
        {
            _run = Own(model.Prepare(2 * batch, frames, height, width, textLength));
            Own(TensorArena.Allocate(gpu, arena => Allocate(arena, c, batch, frames, height, width), out var tensors));
            (Z, Estimate, _dt, _estimateDt, _guidance) = tensors;
            SetGuidance(guidance);
            _step = Own(new Sequence(gpu));
            _step.Copy(Z, _run.Latents.Slice(0, batch));       // x_in = [z; z]: conditional half first
            _step.Copy(Z, _run.Latents.Slice(batch, batch));
            _run.RecordForward(_step);
            // x̂0 = z_next + t_next·v, formed by the same Euler kernel from a copy of z_next.
            EulerCfg.Record(_step, Z, _run.Output, _dt, _guidance);
            _step.Copy(Z, Estimate);
            EulerCfg.Record(_step, Estimate, _run.Output, _estimateDt, _guidance);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Sets each sample's guidance scale (B values) for the next <see cref="Sample"/>.</summary>
    public void SetGuidance(IReadOnlyList<double> guidance)
    {
        if (guidance.Count != Batch) throw new ArgumentException($"{guidance.Count} guidance scales for a batch of {Batch}");
        _guidance.Upload(guidance.Select(g => (float)g).ToArray());
        Guidance = guidance.ToArray();
    }

    T Own<T>(T d) where T : IDisposable { _owned.Add(d); return d; }

    /// <summary>z and the estimate [B, C, F, H, W]; dt, the estimate's dt and the guidance scales, rewritten before every
    /// step, in host-visible memory.</summary>
    static (Tensor Z, Tensor Estimate, Tensor Dt, Tensor EstimateDt, Tensor Guidance) Allocate(TensorArena arena, PtDitConfig c, int batch,
        int frames, int height, int width)
        => (arena.F32(batch, c.InChannels, frames, height, width), arena.F32(batch, c.InChannels, frames, height, width),
            arena.NewHostVisible(DType.F32, 1), arena.NewHostVisible(DType.F32, 1), arena.NewHostVisible(DType.F32, batch));

    /// <summary>Device bytes a sampler of this size allocates, its forward pass at batch 2B included (measured, nothing
    /// allocated): what a memory plan counts.</summary>
    public static long ActivationBytes(PtDitConfig c, int batch, int frames, int height, int width, int textLength)
        => PtDitRun.ActivationBytes(c, 2 * batch, frames, height, width, textLength)
         + TensorArena.MeasureBytes(arena => Allocate(arena, c, batch, frames, height, width));

    /// <summary>The text of the 2B rows [cond; uncond], from device tensors: embeddings [2B, L, caption_channels], mask [2B, L].</summary>
    public void SetText(Tensor embeddings, Tensor mask) => _run.SetText(embeddings, mask);

    /// <summary>The text from host arrays: cond and uncond embeddings [B, L, caption_channels] each, masks [B, L] (empty: keep all).</summary>
    public void SetText(float[] cond, float[] condMask, float[] uncond, float[] uncondMask)
    {
        int n = Batch * _run.TextLength;
        _run.SetText(Concat(cond, uncond), Concat(Ones(condMask, n), Ones(uncondMask, n)));
    }

    /// <summary>Runs the whole schedule from the given noise; <paramref name="afterStep"/> gets the number of steps done.
    /// Between steps <paramref name="cancel"/> is checked.</summary>
    public void Sample(RectifiedFlowSchedule schedule, ReadOnlySpan<float> noise, Action<int>? afterStep = null, CancellationToken cancel = default)
    {
        if (noise.Length != Z.Elements)
            throw new ArgumentException($"noise: {noise.Length} values, expected [{string.Join(", ", Z.Shape)}]");
        Z.Upload(noise);
        var times = new float[2 * Batch];
        // t_next / T is what the remaining steps add up to (the step sizes sum to the time left).
        var remaining = new float[schedule.Steps + 1];
        for (int i = schedule.Steps - 1; i >= 0; i--) remaining[i] = remaining[i + 1] + schedule.Dt[i];
        for (int i = 0; i < schedule.Steps; i++)
        {
            cancel.ThrowIfCancellationRequested();
            Array.Fill(times, schedule.ModelTimes[i]);
            _run.SetTimesteps(times);
            _dt.Upload([schedule.Dt[i]]);
            _estimateDt.Upload([remaining[i + 1]]);
            _step.Run();
            afterStep?.Invoke(i + 1);
        }
    }

    /// <summary>One-call sampling with host text (the `t2x sample` command and tests): returns the final latents.</summary>
    public static float[] Sample(PtDitModel model, SamplerOptions options, float[] noise, int batch, int frames, int height, int width,
        Conditions text, int heightPx, int widthPx, int framesPx = 1, Action<int, int>? progress = null)
    {
        var schedule = new RectifiedFlowSchedule(options, heightPx, widthPx, framesPx);
        using var sampler = new RectifiedFlowSampler(model, batch, frames, height, width, text.TextLength, options.CfgScale);
        sampler.SetText(text.Cond, text.CondMask, text.Uncond, text.UncondMask);
        sampler.Sample(schedule, noise, done => progress?.Invoke(done, schedule.Steps));
        return sampler.Z.ToArray();
    }

    /// <summary>The text conditions of a batch of B samples: embeddings [B, L, caption_channels] and masks [B, L]
    /// (1 keep, 0 drop; empty: keep all).</summary>
    public readonly record struct Conditions(float[] Cond, float[] CondMask, float[] Uncond, float[] UncondMask, int TextLength);

    static float[] Ones(float[] mask, int n)
    {
        if (mask.Length == 0) { var ones = new float[n]; Array.Fill(ones, 1f); return ones; }
        if (mask.Length != n) throw new ArgumentException($"text mask: {mask.Length} values, expected {n}");
        return mask;
    }

    static float[] Concat(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"conditional and unconditional text differ in size ({a.Length} and {b.Length} values)");
        return [.. a, .. b];
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
    }
}
