namespace T2X.Vulkan.Sampling;

/// <summary>Settings of the official rectified-flow sampler (MindSpeed-MM RFlow as the Qihoo pipeline runs it).</summary>
internal sealed record SamplerOptions
{
    /// <summary>num_inference_steps.</summary>
    public int Steps { get; init; } = 30;
    /// <summary>cfg_scale: v = uncond + g·(cond − uncond).</summary>
    public double CfgScale { get; init; } = 4.0;
    /// <summary>num_train_steps: the time scale T.</summary>
    public int NumTrainSteps { get; init; } = 1000;
    /// <summary>use_timestep_transform: the resolution-dependent time shift.</summary>
    public bool UseTimestepTransform { get; init; } = true;
    /// <summary>transform_scale: multiplies the shift ratio (RFlow's default 1; the built-in 64×64 model uses 32).</summary>
    public float TransformScale { get; init; } = 1f;
    /// <summary>Mimic the official bfloat16 run: the shift ratio is formed from bf16 tensors (docs/ptdit.md, quirk Q8) and the
    /// model embeds t' rounded to bf16 (quirk Q3). dt always uses the float32 times.</summary>
    public bool MimicBf16 { get; init; }
}

/// <summary>
/// The sampler's time schedule. All arithmetic is float32, operation by operation, as the official code does it
/// on float32 tensors, so the times match it bit for bit.
/// </summary>
internal sealed class RectifiedFlowSchedule
{
    /// <summary>Raw times t_i = (1 − i/N)·T, i = 0..N−1.</summary>
    public float[] RawTimes { get; }
    /// <summary>Shifted times t'_i (float32): what dt is formed from.</summary>
    public float[] Times { get; }
    /// <summary>The time each step feeds the predictor: t'_i, or t'_i rounded to bf16 when mimicking the bf16 run.</summary>
    public float[] ModelTimes { get; }
    /// <summary>Step sizes dt_i = (t'_i − t'_{i+1})/T, and t'_{N−1}/T for the last step; they sum to 1.</summary>
    public float[] Dt { get; }
    /// <summary>The shift ratio r = sqrt(H·W/512²)·r_time (1 without the transform).</summary>
    public float Ratio { get; }

    public int Steps => Times.Length;

    /// <param name="heightPx">image height in pixels (latent × 8), as the official transform uses it</param>
    /// <param name="widthPx">image width in pixels</param>
    /// <param name="framesPx">pixel frames: 1 for images</param>
    public RectifiedFlowSchedule(SamplerOptions options, int heightPx, int widthPx, int framesPx = 1)
    {
        int n = options.Steps;
        if (n < 1) throw new ArgumentException($"steps must be at least 1, got {n}");
        if (heightPx < 1 || widthPx < 1 || framesPx < 1) throw new ArgumentException($"size {framesPx}×{heightPx}×{widthPx} (frames×height×width) must be positive");
        float T = options.NumTrainSteps;
        RawTimes = new float[n];
        for (int i = 0; i < n; i++) RawTimes[i] = (float)((1.0 - (double)i / n) * options.NumTrainSteps);

        Ratio = options.UseTimestepTransform ? ShiftRatio(heightPx, widthPx, framesPx, options.MimicBf16, options.TransformScale) : 1f;
        if (Ratio == 0)
            throw new ArgumentException($"the official timestep transform gives ratio 0 for {framesPx} pixel frames (floor(frames/17)·5 = 0, quirk Q9): " +
                "its first time step would be 0/0; use 1 frame or at least 17");
        Times = new float[n];
        for (int i = 0; i < n; i++)
        {
            if (!options.UseTimestepTransform) { Times[i] = RawTimes[i]; continue; }
            float u = RawTimes[i] / T;
            float shifted = Ratio * u / (1f + (Ratio - 1f) * u);
            Times[i] = shifted * T;
        }
        ModelTimes = options.MimicBf16 ? Array.ConvertAll(Times, Bf16) : (float[])Times.Clone();
        Dt = new float[n];
        for (int i = 0; i < n; i++)
            Dt[i] = (i < n - 1 ? Times[i] - Times[i + 1] : Times[i]) / T;
    }

    /// <summary>
    /// r = sqrt(H·W / 512²) · sqrt(r_f) · scale, with r_f = 1 for one frame, else floor(frames/17)·5 (docs/ptdit.md, quirk Q9).
    /// In the bf16 run every intermediate is a bf16 tensor (quirk Q8); otherwise float32.
    /// </summary>
    public static float ShiftRatio(int heightPx, int widthPx, int framesPx, bool bf16, float scale = 1f)
    {
        Func<float, float> round = bf16 ? Bf16 : x => x;
        float h = round(heightPx), w = round(widthPx), f = round(framesPx);
        float resolution = round(h * w);
        float ratioSpace = round(MathF.Sqrt(round(resolution / (512f * 512f))));
        float frames = f == 1 ? 1f : round(round(MathF.Floor(f / 17f)) * 5f);
        float ratioTime = round(MathF.Sqrt(frames));
        return round(round(ratioSpace * ratioTime) * scale);
    }

    static float Bf16(float x) => Weights.BFloat16.Round(x);
}

/// <summary>The classifier-free-guidance Euler update on the host, in float32 (what the device kernel computes).</summary>
internal static class RectifiedFlow
{
    /// <summary>z ← z + dt·(u + g·(c − u)) for the first <c>channels</c> channels of each predictor output row,
    /// where c and u are the conditional and unconditional halves of a [2B, outChannels, ...] prediction.</summary>
    public static void EulerCfgStep(float[] z, ReadOnlySpan<float> prediction, int batch, int channels, int outChannels, float cfg, float dt)
    {
        long plane = z.Length / batch / channels;
        if (prediction.Length != 2L * batch * outChannels * plane)
            throw new ArgumentException($"prediction has {prediction.Length} values, expected 2·{batch}·{outChannels}·{plane}");
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < channels; c++)
                for (long i = 0; i < plane; i++)
                {
                    float cond = prediction[(int)(((long)b * outChannels + c) * plane + i)];
                    float uncond = prediction[(int)(((long)(batch + b) * outChannels + c) * plane + i)];
                    float v = uncond + cfg * (cond - uncond);
                    long zi = ((long)b * channels + c) * plane + i;
                    z[zi] = z[zi] + v * dt;
                }
    }
}
