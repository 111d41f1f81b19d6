using System.Diagnostics;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Weights;

namespace T2X.Host.Commands;

/// <summary>
/// t2x forward --transformer DIR --inputs IN --output OUT [--force] [--attention proxy|global]: one PT-DiT forward pass at tensor
/// level. IN holds latents [B,C,F,H,W], timestep [B], encoder_hidden_states [B,L,caption_channels] and optionally
/// encoder_attention_mask [B,L] (1 keep, 0 drop); OUT gets sample [B,out_channels,F,H,W] float32.
/// </summary>
public static class ForwardCommand
{
    public static int Run(Args a)
    {
        string dir = a.Require("transformer"), input = a.Require("inputs"), output = a.Require("output");
        var mode = ParseMode(a.Option("attention"));
        bool force = a.Flag("force");
        string? device = a.Option("device");
        a.Done();
        AtomicFile.Check(output, force);

        var config = PtDitConfig.Load(Path.Combine(dir, "config.json"));
        float[] latents, timestep, text, mask = [];
        long[] ls;
        int L;
        using (var f = new TensorFile(input))
        {
            (latents, ls) = f.Read("latents", 5, "[B, C, F, H, W]");
            int B = (int)ls[0];
            if (ls[1] != config.InChannels) throw new InvalidDataException($"'latents' has {ls[1]} channels; the model's in_channels is {config.InChannels}");
            config.CheckLatentSize(ls[2], ls[3], ls[4]);
            long[] ts;
            (timestep, ts) = f.Read("timestep", -1, $"[{B}]");
            if (timestep.Length == 1 && B > 1) timestep = Enumerable.Repeat(timestep[0], B).ToArray();
            else if (ts.Length != 1 || ts[0] != B) throw new InvalidDataException($"'timestep' has shape [{string.Join(", ", ts)}], expected [{B}]");
            long[] es;
            (text, es) = f.Read("encoder_hidden_states", 3, $"[{B}, L, {config.CaptionChannels}]");
            if (es[0] != B || es[2] != config.CaptionChannels)
                throw new InvalidDataException($"'encoder_hidden_states' has shape [{string.Join(", ", es)}], expected [{B}, L, {config.CaptionChannels}]");
            L = (int)es[1];
            if (f.Has("encoder_attention_mask"))
            {
                long[] ms;
                (mask, ms) = f.Read("encoder_attention_mask", 2, $"[{B}, {L}]");
                TensorFile.Expect("encoder_attention_mask", ms, [B, L], "[B, L]");
            }
        }

        using var gpu = new Gpu(new GpuOptions { Device = device });
        var clock = Stopwatch.StartNew();
        using var model = PtDitModel.Load(gpu, dir, mode);
        foreach (var k in model.Weights.UnexpectedKeys.Take(20)) Console.Error.WriteLine($"t2x forward: ignoring unexpected checkpoint key '{k}'");
        double loadS = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var result = model.Forward(latents, (int)ls[0], (int)ls[2], (int)ls[3], (int)ls[4], timestep, text, L, mask);
        double runS = clock.Elapsed.TotalSeconds;
        long[] shape = [ls[0], config.OutChannels, ls[2], ls[3], ls[4]];
        Finite.Require(result, "the model's output 'sample' (not written: are its weights broken?)");
        SafeTensors.Write(output, [("sample", HostTensor.FromFloat32(result, shape))], overwrite: force);
        Console.WriteLine($"sample [{string.Join(", ", shape)}] written to {output} ({mode} attention; load {loadS:F1} s, forward {runS:F1} s, device peak {gpu.PeakBytes / 1048576.0:F0} MiB)");
        return 0;
    }

    public static AttentionMode ParseMode(string? value) => value switch
    {
        null or "proxy" => AttentionMode.Proxy,
        "global" => AttentionMode.Global,
        _ => throw new UsageException($"--attention must be 'proxy' or 'global', got '{value}'"),
    };
}
