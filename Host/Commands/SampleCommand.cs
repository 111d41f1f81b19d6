using System.Diagnostics;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Weights;

namespace T2X.Host.Commands;

/// <summary>
/// t2x sample --transformer DIR --inputs IN --output OUT [--force] --steps N --cfg S --height PX --width PX [--frames N] [--seed N]:
/// the official rectified-flow sampler at tensor level. IN holds cond_embeds [B,L,Cc], uncond_embeds, optional
/// cond_mask/uncond_mask [B,L] and optional noise [B,C,F,h,w] (seeded noise otherwise); OUT gets the final latents.
/// PX are pixel sizes (latent × 8), as the timestep transform uses them; --frames is the pixel frame count.
/// </summary>
public static class SampleCommand
{
    const int VaeScale = 8;

    public static int Run(Args a)
    {
        string dir = a.Require("transformer"), input = a.Require("inputs"), output = a.Require("output");
        var options = new SamplerOptions
        {
            Steps = a.Int("steps", 30, 1, GenerationSettings.MaxSteps),
            CfgScale = a.Double("cfg", 4.0, -GenerationSettings.MaxCfg, GenerationSettings.MaxCfg),
            MimicBf16 = a.Flag("bf16-times"),
        };
        int? heightPx = a.IntOrNull("height", 1, GenerationSettings.MaxSide), widthPx = a.IntOrNull("width", 1, GenerationSettings.MaxSide);
        int? framesPx = a.IntOrNull("frames", 1, GenerationSettings.MaxFrames);
        long seed = a.Long("seed", 0);
        var mode = ForwardCommand.ParseMode(a.Option("attention"));
        bool force = a.Flag("force");
        string? device = a.Option("device");
        a.Done();
        AtomicFile.Check(output, force);

        var config = PtDitConfig.Load(Path.Combine(dir, "config.json"));
        float[] cond, uncond, condMask = [], uncondMask = [], noise;
        int B, L, F, h, w;
        using (var f = new TensorFile(input))
        {
            (float[] v, long[] s) ReadText(string name)
            {
                var (v, s) = f.Read(name, -1, $"[B, L, {config.CaptionChannels}]");
                if (s.Length == 2) s = [1, .. s];
                if (s.Length != 3 || s[2] != config.CaptionChannels)
                    throw new InvalidDataException($"'{name}' has shape [{string.Join(", ", s)}], expected [B, L, {config.CaptionChannels}]");
                return (v, s);
            }
            var (c, cs) = ReadText("cond_embeds");
            var (u, us) = ReadText("uncond_embeds");
            TensorFile.Expect("uncond_embeds", us, cs, "the shape of cond_embeds");
            (cond, uncond, B, L) = (c, u, (int)cs[0], (int)cs[1]);
            float[] ReadMask(string name)
            {
                if (!f.Has(name)) return [];
                var (m, ms) = f.Read(name, -1, $"[{B}, {L}]");
                if (m.Length != B * L) throw new InvalidDataException($"'{name}' has shape [{string.Join(", ", ms)}], expected [{B}, {L}]");
                return m;
            }
            condMask = ReadMask("cond_mask");
            uncondMask = ReadMask("uncond_mask");

            if (f.Has("noise"))
            {
                var (n, ns) = f.Read("noise", 5, "[B, C, F, h, w]");
                if (ns[0] != B || ns[1] != config.InChannels)
                    throw new InvalidDataException($"'noise' has shape [{string.Join(", ", ns)}], expected [{B}, {config.InChannels}, F, h, w] (B from cond_embeds)");
                (noise, F, h, w) = (n, (int)ns[2], (int)ns[3], (int)ns[4]);
                if (heightPx is { } hp && hp != h * VaeScale || widthPx is { } wp && wp != w * VaeScale)
                    throw new UsageException($"--height/--width {heightPx}×{widthPx} px do not match the noise's latent size {h}×{w} (× {VaeScale} = {h * VaeScale}×{w * VaeScale} px)");
                if (F > 1 && framesPx is null) throw new UsageException($"the noise has {F} latent frames: give --frames (the pixel frame count the timestep transform uses)");
            }
            else
            {
                if (heightPx is null || widthPx is null) throw new UsageException("--height and --width are required when the inputs hold no noise");
                config.CheckPixelSize(heightPx.Value, widthPx.Value, VaeScale);
                int fp = framesPx ?? 1;
                (F, h, w) = (LatentFrames(fp), heightPx.Value / VaeScale, widthPx.Value / VaeScale);
                noise = GaussianNoise.Generate((ulong)seed, (long)B * config.InChannels * F * h * w);
            }
        }
        config.CheckLatentSize(F, h, w, "noise");

        using var gpu = new Gpu(new GpuOptions { Device = device });
        using var model = PtDitModel.Load(gpu, dir, mode);
        var clock = Stopwatch.StartNew();
        var z = RectifiedFlowSampler.Sample(model, options, noise, B, F, h, w, new(cond, condMask, uncond, uncondMask, L),
            heightPx ?? h * VaeScale, widthPx ?? w * VaeScale, framesPx ?? 1,
            (i, n) => Console.Error.Write($"\rstep {i}/{n}"));
        Console.Error.WriteLine();
        long[] shape = [B, config.InChannels, F, h, w];
        Finite.Require(z, "the sampled latents (not written: are the model's weights broken?)");
        SafeTensors.Write(output, [("latents", HostTensor.FromFloat32(z, shape))], overwrite: force);
        Console.WriteLine($"latents [{string.Join(", ", shape)}] written to {output} ({options.Steps} steps, cfg {options.CfgScale}, {clock.Elapsed.TotalSeconds:F1} s)");
        return 0;
    }

    /// <summary>Latent frames of the Open-Sora-Plan causal VAE (temporal factor 4), as the official pipeline computes them.</summary>
    public static int LatentFrames(int pixelFrames) =>
        pixelFrames % 2 == 1 ? (pixelFrames - 1 + 3) / 4 + 1 : (pixelFrames + 3) / 4;
}
