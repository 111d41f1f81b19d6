using T2X.Vulkan.Kernels;
using T2X.Vulkan.Models.PtDit;

namespace T2X.Vulkan.Sampling;

/// <summary>
/// The official rectified-flow sampling loop on the device (spec section 10): each step runs the predictor on
/// [z; z] with [cond; uncond] text (one batch of 2B), combines the first in_channels outputs with classifier-free
/// guidance and takes an Euler step. One command buffer holds a whole step and is resubmitted; between steps only the
/// timestep sinusoid and dt are rewritten.
/// </summary>
public static class RectifiedFlowSampler
{
    /// <summary>The text conditions of a batch of B samples: embeddings [B, L, caption_channels] and masks [B, L]
    /// (1 keep, 0 drop; empty: keep all).</summary>
    public readonly record struct Conditions(float[] Cond, float[] CondMask, float[] Uncond, float[] UncondMask, int TextLength);

    /// <param name="noise">initial latents z [B, C, F, H, W] (latent sizes)</param>
    /// <param name="heightPx">pixel height as the timestep transform uses it (latent × 8)</param>
    /// <param name="progress">called after each step with (steps done, steps)</param>
    public static float[] Sample(PtDitModel model, SamplerOptions options, float[] noise, int batch, int frames, int height, int width,
        Conditions text, int heightPx, int widthPx, int framesPx = 1, Action<int, int>? progress = null)
    {
        var c = model.Config;
        long latentSize = (long)batch * c.InChannels * frames * height * width;
        if (noise.Length != latentSize)
            throw new ArgumentException($"noise: {noise.Length} values, expected [{batch}, {c.InChannels}, {frames}, {height}, {width}]");
        if (c.OutChannels < c.InChannels)
            throw new ArgumentException($"the sampler uses the first in_channels = {c.InChannels} output channels, but out_channels is {c.OutChannels}");
        var schedule = new RectifiedFlowSchedule(options, heightPx, widthPx, framesPx);
        int L = text.TextLength;
        var gpu = model.Gpu;

        using var run = model.Prepare(2 * batch, frames, height, width, L);
        run.SetText(Concat(text.Cond, text.Uncond), Concat(Mask(text.CondMask, batch * L), Mask(text.UncondMask, batch * L)));
        var z = Tensor.FromArray(gpu, noise, batch, c.InChannels, frames, height, width);
        var dt = Tensor.Create(gpu, DType.F32, 1);
        try
        {
            using var step = new Sequence(gpu);
            step.Copy(z, run.Latents.Slice(0, batch));       // x_in = [z; z]: conditional half first
            step.Copy(z, run.Latents.Slice(batch, batch));
            run.RecordForward(step);
            EulerCfg.Record(step, z, run.Output, dt, (float)options.CfgScale);
            var times = new float[2 * batch];
            for (int i = 0; i < schedule.Steps; i++)
            {
                Array.Fill(times, schedule.ModelTimes[i]);
                run.SetTimesteps(times);
                dt.Upload([schedule.Dt[i]]);
                step.Run();
                progress?.Invoke(i + 1, schedule.Steps);
            }
            return z.ToArray();
        }
        finally
        {
            z.Buffer.Dispose();
            dt.Buffer.Dispose();
        }
    }

    static float[] Mask(float[] mask, int n)
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
}
