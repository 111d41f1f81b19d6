using T2X.Tests.Reference;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Models;

/// <summary>
/// Tiny random PT-DiT configurations that together cover what the model must get right: square and non-square grids,
/// video (F = 2, and temporal windows), several heads, shift on/off, proxy sub-lattices (docs/ptdit.md, quirk Q6), masks that drop tokens
/// (and a fully masked row, Q7), batch 2 with mixed timesteps (Q1), attention_bias off, the stored position buffer.
/// </summary>
public sealed record PtDitCase(string Name, PtDitConfig Config, int B, int F, int H, int W, int L, bool MixedTimesteps = false,
    bool FullyMaskedRow = false, PositionBuffer Buffer = PositionBuffer.Absent)
{
    public static PtDitConfig Tiny(int[] window, int[] proxy, int heads = 2, int headDim = 8, bool shift = true, bool bias = true, int layers = 2, int sampleSize = 8) =>
        PtDitConfig.Released with
        {
            NumHeads = heads, HeadDim = headDim, CrossAttentionDim = heads * headDim, InChannels = 3, OutChannels = 6, NumLayers = layers,
            CaptionChannels = 12, PatchSize = 2, SampleSize = sampleSize, CompressRatios = window, ProxyCompressRatios = proxy,
            ShiftWindow = shift, AttentionBias = bias,
        };

    public static readonly PtDitCase[] All =
    [
        new("square_lattice_batch2_mixed_t", Tiny([1, 4, 4], [1, 2, 2]), 2, 1, 16, 16, 5, MixedTimesteps: true),
        new("nonsquare", Tiny([1, 2, 4], [1, 2, 4]), 1, 1, 8, 24, 4),
        new("video_f2_batch2", Tiny([1, 2, 2], [1, 2, 2], heads: 4, headDim: 4), 2, 2, 8, 8, 3),
        new("temporal_window", Tiny([2, 2, 2], [1, 1, 2]), 1, 4, 8, 8, 3),
        new("no_shift_no_bias_3heads", Tiny([1, 2, 2], [1, 1, 1], heads: 3, headDim: 16, shift: false, bias: false), 2, 1, 8, 12, 4),
        new("stored_position_buffer", Tiny([1, 2, 2], [1, 2, 2], sampleSize: 8), 1, 1, 8, 8, 3, Buffer: PositionBuffer.Random),
        new("fully_masked_row", Tiny([1, 2, 2], [1, 2, 2]), 2, 1, 8, 8, 4, FullyMaskedRow: true),
    ];

    public Dictionary<string, HostTensor> Weights(ulong seed = 11) => PtDitRandomCheckpoint.Create(Config, seed, buffer: Buffer);

    /// <summary>Fresh random inputs: latents [B,C,F,H,W], timestep [B], text [B,L,Cc], mask [B,L] (0/1, first token kept).</summary>
    public (float[] latents, float[] timestep, float[] text, float[] mask) Inputs(int seed)
    {
        var rng = new Random(seed);
        var latents = Check.Randn(rng, (long)B * Config.InChannels * F * H * W);
        float t0 = (float)(rng.NextDouble() * 1000);
        var timestep = Enumerable.Range(0, B).Select(b => MixedTimesteps ? (float)(rng.NextDouble() * 1000) : t0).ToArray();
        var text = Check.Randn(rng, (long)B * L * Config.CaptionChannels);
        var mask = Enumerable.Range(0, B * L).Select(i => i % L == 0 || rng.NextDouble() < 0.5 ? 1f : 0f).ToArray();
        if (FullyMaskedRow) for (int j = 0; j < L; j++) mask[(B - 1) * L + j] = 0;
        return (latents, timestep, text, mask);
    }

    public double[] Reference(Dictionary<string, HostTensor> weights, (float[] latents, float[] timestep, float[] text, float[] mask) x, AttentionMode mode = AttentionMode.Proxy)
        => new PtDitReference(Config, weights).Forward(D(x.latents), B, F, H, W, D(x.timestep), D(x.text), L, D(x.mask), mode);

    static double[] D(float[] a) => Array.ConvertAll(a, v => (double)v);
    public override string ToString() => Name;
}
