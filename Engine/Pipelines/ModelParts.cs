using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Models.Vae;

namespace T2X.Vulkan.Pipelines;

/// <summary>
/// The configs of a model folder's parts (no weights): what the pipeline needs to check a request and plan memory
/// before anything is loaded. Checks that the parts fit together.
/// </summary>
internal sealed record ModelParts(ModelFolder Folder, T5Config T5, PtDitConfig Transformer, VaeConfig? Vae)
{
    public static ModelParts Read(ModelFolder folder)
    {
        var t5 = T5Config.FromFolder(folder.TextEncoder);
        string transformerConfig = Path.Combine(folder.Transformer, "config.json");
        if (!File.Exists(transformerConfig)) throw new FileNotFoundException($"transformer folder '{folder.Transformer}' has no config.json", transformerConfig);
        var transformer = PtDitConfig.Load(transformerConfig);
        VaeConfig? vae = null;
        if (folder.Vae is not null)
        {
            string vaeConfig = Path.Combine(folder.Vae, "config.json");
            if (!File.Exists(vaeConfig)) throw new FileNotFoundException($"VAE folder '{folder.Vae}' has no config.json", vaeConfig);
            vae = VaeConfig.Load(vaeConfig);
        }
        if (transformer.CaptionChannels != t5.DModel)
            throw new InvalidDataException($"model '{folder.Name}': the transformer expects caption_channels = {transformer.CaptionChannels}, the text encoder gives d_model = {t5.DModel}");
        if (vae is null && transformer.InChannels != 3)
            throw new InvalidDataException($"model '{folder.Name}': a pixel-space transformer must have in_channels = 3 (RGB), this one has {transformer.InChannels}");
        if (vae is not null && transformer.InChannels != vae.EmbedDim)
            throw new InvalidDataException($"model '{folder.Name}': the transformer has in_channels = {transformer.InChannels}, the VAE decodes embed_dim = {vae.EmbedDim} latent channels");
        return new ModelParts(folder, t5, transformer, vae);
    }

    /// <summary>Image pixels per sampled position: 1 in pixel space, the VAE's spatial factor in latent space.</summary>
    public int PixelsPerLatent => Vae?.SpatialFactor ?? 1;

    /// <summary>Throws (ArgumentException, naming what is allowed) when the model cannot make this many frames of this
    /// size; returns the latent frames the sampler runs.</summary>
    public int CheckSize(int width, int height, int frames)
    {
        if (frames < 1) throw new ArgumentException($"frames must be at least 1, got {frames}");
        int latentFrames = 1;
        if (frames > 1)
        {
            if (Vae is null)
                throw new ArgumentException($"model '{Folder.Name}' makes still images only (a pixel-space model has no time axis): frames must be 1, got {frames}");
            latentFrames = 0;
            for (int t = 1; t <= frames && latentFrames == 0; t++)
                if (Vae.OutputFrames(t) == frames) latentFrames = t;
            if (latentFrames == 0)
            {
                var allowed = Enumerable.Range(1, 4).Select(t => Vae.OutputFrames(t)).Where(n => n > 1);
                throw new ArgumentException($"model '{Folder.Name}': its VAE decodes T latent frames into {Vae.OutputFrames(2) - 1}·(T − 1) + 1 frames, so frames must be one of 1, {string.Join(", ", allowed)}, …; got {frames}");
            }
        }
        int f = PixelsPerLatent;
        if (height % f != 0 || width % f != 0)
            throw new ArgumentException($"image size {width}x{height} must be a multiple of {f} (the VAE's pixels per latent)");
        Transformer.CheckLatentSize(latentFrames, height / f, width / f, frames > 1 ? "video" : "image");
        return latentFrames;
    }
}
