using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>
/// Rectified flow as MindSpeed-MM's RFlow defines it (num_train_steps T = 1000):
/// x_t = (1 − t/T)·x0 + (t/T)·noise, the model predicts the velocity x0 − noise (pointing from noise to data),
/// training times are logit-normal (sigmoid of a standard normal) or uniform times T, and sampling integrates
/// z ← z + v·dt from t = T down to 0 with classifier-free guidance.
/// </summary>
public static class RectifiedFlow
{
    /// <summary>A share of each batch trained at times drawn uniformly from [From·T, To·T].</summary>
    public sealed record TimeBand(double Share, double From, double To);

    public const double T = 1000;

    /// <summary>The resolution-dependent time shift (docs/ptdit.md §10.3), applied when the config enables it.</summary>
    /// The ratio is sqrt(H·W/512²)·scale; RFlow's transform_scale (1 in the release) is the scale.
    public static double Transform(double t, int height, int width, double scale)
    {
        double r = Math.Sqrt(height * width / (512.0 * 512.0)) * scale, u = t / T;
        return T * r * u / (1 + (r - 1) * u);
    }

    /// <summary>Mean squared error of the predicted velocity (first C output channels) against x0 − noise.</summary>
    /// <param name="sampleMethod">RFlow's sample_method: "logit-normal" (sigmoid of a standard normal, the
    /// released config) or "uniform" (covers the high-noise times, where the caption decides the layout, more often).</param>
    /// <param name="bands">Shares of the batch whose times are drawn uniformly from [From·T, To·T] instead, in order from
    /// the first sample: high noise teaches the model to read the layout from the caption (at lower times the picture
    /// itself says most); a band at mid or low noise trains the outline and the edges more.</param>
    public static Tensor Loss(Func<Tensor, Tensor, Tensor> model, Tensor x0, string sampleMethod, bool timestepTransform, double transformScale, IEnumerable<TimeBand> bands, Generator rng)
    {
        long b = x0.shape[0], c = x0.shape[1];
        var t = sampleMethod switch
        {
            "logit-normal" => sigmoid(randn(b, generator: rng)) * T,
            "uniform" => rand(b, generator: rng) * T,
            _ => throw new ArgumentException($"sample method '{sampleMethod}': expected logit-normal or uniform"),
        };
        if (timestepTransform)
            t = tensor(t.data<float>().ToArray().Select(v => (float)Transform(v, (int)x0.shape[2], (int)x0.shape[3], transformScale)).ToArray());
        long first = 0;
        foreach (var band in bands)
        {
            long n = Math.Min(b - first, (long)Math.Round(band.Share * b));
            if (n > 0) t = cat([t.narrow(0, 0, first), (band.From + (band.To - band.From) * rand(n, generator: rng)) * T, t.narrow(0, first + n, b - first - n)], 0);
            first += n;
        }
        var noise = randn(x0.shape, generator: rng);
        var s = (t / T).view(b, 1, 1, 1);
        var xt = (1 - s) * x0 + s * noise;
        var velocity = model(xt, t).narrow(1, 0, c);
        return (velocity - (x0 - noise)).pow(2).mean();
    }

    /// <summary>The sampler's model times t'_i and step sizes dt_i (they sum to 1).</summary>
    public static (double[] Times, double[] Steps) Schedule(int steps, bool timestepTransform, double transformScale, int height, int width)
    {
        var times = Enumerable.Range(0, steps).Select(i => (1 - (double)i / steps) * T)
                              .Select(t => timestepTransform ? Transform(t, height, width, transformScale) : t).ToArray();
        var dt = times.Select((t, i) => (i < steps - 1 ? t - times[i + 1] : t) / T).ToArray();
        return (times, dt);
    }

    /// <summary>
    /// Samples from noise z [B, C, H, W]. predict(z2, t) runs the model on the doubled batch [z; z] with the
    /// conditional rows first and returns the output [2B, 2C, H, W]; v = uncond + cfg (cond − uncond).
    /// </summary>
    public static Tensor Sample(Func<Tensor, Tensor, Tensor> predict, Tensor z, int steps, double cfg, bool timestepTransform, double transformScale)
    {
        long b = z.shape[0], c = z.shape[1];
        var (times, dt) = Schedule(steps, timestepTransform, transformScale, (int)z.shape[2], (int)z.shape[3]);
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            var output = predict(cat([z, z], 0), full(2 * b, (float)times[i])).narrow(1, 0, c);
            var cond = output.narrow(0, 0, b);
            var uncond = output.narrow(0, b, b);
            var v = uncond + cfg * (cond - uncond);
            z = (z + v * dt[i]).MoveToOuterDisposeScope();
        }
        return z;
    }
}
