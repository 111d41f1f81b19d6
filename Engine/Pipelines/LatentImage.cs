using T2X.Vulkan.Kernels;
using T2X.Vulkan.Models.Vae;

namespace T2X.Vulkan.Pipelines;

/// <summary>
/// The latent-space end of the text-to-image pipeline: the VAE decoder for the final image or video and the linear
/// latent-to-RGB projection for per-step previews (<see cref="LatentPreview"/>). The decoder's weights are loaded when
/// first needed and can be released between generations (<see cref="ReleaseDecoder"/>), so the pipeline can hold one
/// stage's weights at a time. Owns the device images it hands out; each stays valid until the next call of the same
/// kind or Dispose.
/// </summary>
internal sealed class LatentImage : IDisposable
{
    public VaeConfig Config { get; }
    readonly Gpu _gpu;
    readonly string _dir;
    VaeDecoder? _decoder;
    OwnedTensor? _projection, _preview, _image;

    public LatentImage(Gpu gpu, string vaeDir, VaeConfig config)
    {
        _gpu = gpu;
        _dir = vaeDir;
        Config = config;
    }

    /// <summary>Pixels per latent along rows and columns.</summary>
    public int Factor => Config.SpatialFactor;

    /// <summary>The decoder, loaded on first use.</summary>
    public VaeDecoder Decoder => _decoder ??= VaeDecoder.Load(_gpu, _dir);

    /// <summary>Device bytes of the decoder's weights now on the device (0 when released).</summary>
    public long WeightBytes => _decoder?.WeightBytes ?? 0;

    /// <summary>Frees the decoder's weights; the next decode loads them again.</summary>
    public void ReleaseDecoder()
    {
        _decoder?.Dispose();
        _decoder = null;
    }

    /// <summary>Makes the preview projection ready: vae/config.json's latent_rgb, else fitted from the decoder (loaded for
    /// the fit and, with <paramref name="releaseDecoder"/>, released again so it does not sit beside the transformer).</summary>
    public void PrepareProjection(bool releaseDecoder)
    {
        if (_projection is not null) return;
        bool wasLoaded = _decoder is not null;
        var m = Config.LatentRgb ?? LatentPreview.Fit(Decoder);
        if (releaseDecoder && !wasLoaded) ReleaseDecoder();
        _projection = OwnedTensor.FromArray(_gpu, m, 3, Config.EmbedDim + 1);
    }

    /// <summary>The preview of latents [1, E, T, h, w] (one sample): [3, T·h, w], the frames one under the other.</summary>
    public Tensor Preview(Tensor latents)
    {
        PrepareProjection(releaseDecoder: false);
        long e = latents.Dim(1), rows = latents.Dim(2) * latents.Dim(3), w = latents.Dim(4);
        if (_preview is null || _preview.T.Dim(1) != rows || _preview.T.Dim(2) != w)
            OwnedTensor.Replace(ref _preview, () => OwnedTensor.Create(_gpu, DType.F32, 3, rows, w));
        using var seq = new Sequence(_gpu);
        LatentRgb.Record(seq, latents.Reshape(e, rows, w), _projection!.T, _preview!.T);
        seq.Run();
        return _preview.T;
    }

    /// <summary>Decodes host latents [B, E, T, h, w] as <paramref name="plan"/> says (null: the official tiling rule
    /// within the device's free memory) into the videos [B, 3, T', H, W] (T' = 1 for an image), clamped to [−1, 1], on the
    /// device. When memory forces smaller tiles than the official ones, says so on stderr.
    /// <paramref name="releaseDecoder"/>: free the decoder's weights before the image is uploaded.</summary>
    public Tensor Decode(float[] latents, long[] shape, VaePlan? plan, bool releaseDecoder)
    {
        if (shape.Length != 5 || shape[0] < 1) throw new ArgumentException($"latents must be [B, E, T, h, w], got [{string.Join(",", shape)}]");
        plan ??= Decoder.Plan(shape, VaeTiling.Auto);
        if (plan.Fallback) Console.Error.WriteLine(plan.Message);
        var sample = Decoder.Decode(latents, shape, plan);
        if (releaseDecoder) ReleaseDecoder();
        var rgb = Array.ConvertAll(sample.Data, v => Math.Clamp(v, -1f, 1f));
        return OwnedTensor.Replace(ref _image, () => OwnedTensor.FromArray(_gpu, rgb, sample.B, 3, sample.T, sample.H, sample.W)).T;
    }

    public void Dispose()
    {
        _preview?.Dispose();
        _image?.Dispose();
        _projection?.Dispose();
        ReleaseDecoder();
    }
}
