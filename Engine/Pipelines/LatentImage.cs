using T2X.Vulkan.Kernels;
using T2X.Vulkan.Models.Vae;

namespace T2X.Vulkan.Pipelines;

/// <summary>
/// The latent-space end of the text-to-image pipeline: the VAE decoder for the final image and the linear
/// latent-to-RGB projection for per-step previews (<see cref="LatentPreview"/>). Owns the device images it hands out;
/// each stays valid until the next call of the same kind or Dispose.
/// </summary>
public sealed class LatentImage : IDisposable
{
    public VaeDecoder Vae { get; }
    readonly Lazy<Tensor> _projection;
    Tensor? _preview, _image;

    public LatentImage(Gpu gpu, string vaeDir)
    {
        Vae = VaeDecoder.Load(gpu, vaeDir);
        _projection = new Lazy<Tensor>(() =>
        {
            var m = Vae.Config.LatentRgb ?? LatentPreview.Fit(Vae);
            return Tensor.FromArray(gpu, m, 3, Vae.Config.EmbedDim + 1);
        });
    }

    /// <summary>Pixels per latent along rows and columns.</summary>
    public int Factor => Vae.Config.SpatialFactor;

    /// <summary>The preview [3, h, w] of latents [1, E, 1, h, w] (one frame of one sample).</summary>
    public Tensor Preview(Tensor latents)
    {
        long e = latents.Dim(1), h = latents.Dim(3), w = latents.Dim(4);
        if (_preview is null || _preview.Dim(1) != h || _preview.Dim(2) != w)
        {
            _preview?.Buffer.Dispose();
            _preview = null;
            _preview = Tensor.Create(Vae.Gpu, DType.F32, 3, h, w);
        }
        var projection = _projection.Value;
        using var seq = new Sequence(Vae.Gpu);
        LatentRgb.Record(seq, latents.Reshape(e, h, w), projection, _preview);
        seq.Run();
        return _preview;
    }

    /// <summary>Decodes latents [1, E, 1, h, w] (the official tiling rule) into the image [3, H, W], clamped to [−1, 1].
    /// When device memory forces smaller tiles than the official ones, says so on stderr.</summary>
    public Tensor Decode(Tensor latents)
    {
        var plan = Vae.Plan(latents.Shape, VaeTiling.Auto);
        if (plan.Fallback) Console.Error.WriteLine(plan.Message);
        var sample = Vae.Decode(latents.ToArray(), latents.Shape, plan);
        var rgb = Array.ConvertAll(sample.Data, v => Math.Clamp(v, -1f, 1f));
        _image?.Buffer.Dispose();
        _image = null;
        _image = Tensor.FromArray(Vae.Gpu, rgb, 3, sample.H, sample.W);
        return _image;
    }

    public void Dispose()
    {
        _preview?.Buffer.Dispose();
        _image?.Buffer.Dispose();
        if (_projection.IsValueCreated) _projection.Value.Buffer.Dispose();
        Vae.Dispose();
    }
}
