using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Weights;

namespace T2X.Host.Commands;

/// <summary>
/// t2x decode --vae DIR --inputs IN.safetensors --output OUT.safetensors [--force] [--tiling auto|on|off] [--memory-budget GIB]
///   IN: latents [B, 4, T, h, w] (the sampler's latents, before the scale division).
///   OUT: sample float32 [B, 3, T', H, W] (before the clamp) and pixels uint8 [B, T', H, W, 3].
///   --tiling auto (default) follows the official rule (tiles when a side exceeds the latent tile or T exceeds the
///   time chunk; a plain decode where the official code would crash), on forces tiles, off never tiles.
///   With auto, a decode that would not fit the device memory goes to smaller tiles; --memory-budget sets that memory
///   (weights included; default: what the device has free, host memory on CPU devices), as in t2x generate.
/// </summary>
public static class DecodeCommand
{
    public static int Run(Args a)
    {
        string vaeDir = a.Require("vae");
        string inputs = a.Require("inputs");
        string output = a.Require("output");
        string tilingText = a.Option("tiling") ?? "auto";
        string? device = a.Option("device");
        long? budget = a.Gib("memory-budget");
        bool force = a.Flag("force");
        a.Done();
        var tiling = tilingText switch
        {
            "auto" => VaeTiling.Auto,
            "on" => VaeTiling.On,
            "off" => VaeTiling.Off,
            _ => throw new UsageException($"--tiling must be auto, on or off, got '{tilingText}'"),
        };
        AtomicFile.Check(output, force);
        float[] latents;
        long[] shape;
        using (var file = new TensorFile(inputs))
            (latents, shape) = file.Read("latents", 5, "latents [B, 4, T, h, w]");

        using var gpu = new Gpu(new GpuOptions { Device = device });
        using var vae = VaeDecoder.Load(gpu, vaeDir);
        if (budget is not null) vae.MemoryLimit = budget.Value - gpu.AllocatedBytes;
        var sample = vae.Decode(latents, shape, tiling, Console.Error.WriteLine);
        var s = sample.Shape;
        Finite.Require(sample.Data, "the decoded 'sample' (not written: are the VAE's weights broken?)");
        SafeTensors.Write(output,
        [
            ("sample", HostTensor.FromFloat32(sample.Data, s)),
            ("pixels", new HostTensor(DType.U8, [s[0], s[2], s[3], s[4], 3], VaePixels.ToUint8(sample))),
        ], overwrite: force);
        return 0;
    }
}
