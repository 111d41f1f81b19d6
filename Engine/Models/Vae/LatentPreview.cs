namespace T2X.Vulkan.Models.Vae;

/// <summary>
/// The viewer's per-step preview of latents: a linear map rgb = M · (latent, 1), M [3, E + 1] (bias last), applied by
/// the LatentRgb kernel at latent resolution. M is fitted from the decoder itself (no constants from elsewhere): decode
/// random latents N(0, 1) of one frame, average each latent pixel's 8×8 block of the sample per channel, and solve the
/// least-squares fit of those block means on (latent, 1). A vae/config.json key "latent_rgb" (3 rows of E + 1 numbers)
/// overrides the fit.
/// </summary>
public static class LatentPreview
{
    /// <summary>Latent rows and columns of the fitting decode: 36 samples per batch item for E + 1 = 5 unknowns.</summary>
    const int FitSide = 6;

    public static float[] Fit(VaeDecoder vae, int seed = 0)
    {
        var c = vae.Config;
        int e = c.EmbedDim, batch = 2, f = c.SpatialFactor;
        var rng = new Random(seed);
        var latents = new float[batch * e * FitSide * FitSide];
        for (int i = 0; i < latents.Length; i++)
            latents[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        var sample = vae.Decode(latents, [batch, e, 1, FitSide, FitSide], VaeTiling.Off);
        // Normal equations A·x = b per colour, features (latent channels, 1).
        int n = e + 1;
        var ata = new double[n, n];
        var atb = new double[3, n];
        var feat = new double[n];
        for (int b = 0; b < batch; b++)
            for (int y = 0; y < FitSide; y++)
                for (int x = 0; x < FitSide; x++)
                {
                    for (int k = 0; k < e; k++) feat[k] = latents[((b * e + k) * FitSide + y) * FitSide + x];
                    feat[e] = 1;
                    for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) ata[i, j] += feat[i] * feat[j];
                    for (int ch = 0; ch < 3; ch++)
                    {
                        double mean = 0;
                        for (int dy = 0; dy < f; dy++) for (int dx = 0; dx < f; dx++) mean += sample[b, ch, 0, y * f + dy, x * f + dx];
                        mean /= f * f;
                        for (int i = 0; i < n; i++) atb[ch, i] += feat[i] * mean;
                    }
                }
        var m = new float[3 * n];
        for (int ch = 0; ch < 3; ch++)
        {
            var rhs = new double[n];
            for (int i = 0; i < n; i++) rhs[i] = atb[ch, i];
            var sol = Solve((double[,])ata.Clone(), rhs);
            for (int i = 0; i < n; i++) m[ch * n + i] = (float)sol[i];
        }
        return m;
    }

    /// <summary>Gaussian elimination with partial pivoting (n is tiny).</summary>
    static double[] Solve(double[,] a, double[] b)
    {
        int n = b.Length;
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            if (Math.Abs(a[pivot, col]) < 1e-12) throw new InvalidOperationException("latent preview fit: singular system");
            for (int k = 0; k < n; k++) (a[col, k], a[pivot, k]) = (a[pivot, k], a[col, k]);
            (b[col], b[pivot]) = (b[pivot], b[col]);
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double factor = a[r, col] / a[col, col];
                for (int k = col; k < n; k++) a[r, k] -= factor * a[col, k];
                b[r] -= factor * b[col];
            }
        }
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = b[i] / a[i, i];
        return x;
    }
}
