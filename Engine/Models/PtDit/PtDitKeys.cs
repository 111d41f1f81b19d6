namespace T2X.Vulkan.Models.PtDit;

/// <summary>
/// The checkpoint keys and shapes of a PT-DiT predictor for a config, in the official state_dict order
/// (1416 entries for the released config: 1415 parameters and the position-table buffer).
/// </summary>
public static class PtDitKeys
{
    /// <summary>The persistent position-table buffer; checkpoints may or may not hold it (docs/ptdit.md, quirk Q12).</summary>
    public const string PosEmbedBuffer = "pos_embed.pos_embed";

    /// <summary>Every key with its shape, in state_dict order; the buffer is included.</summary>
    public static List<(string Name, long[] Shape)> Expected(PtDitConfig c)
    {
        long d = c.Dim, p = c.PatchSize;
        long grid = c.SampleSize / c.PatchSize;
        var keys = new List<(string, long[])>
        {
            ("scale_shift_table", [2, d]),
            (PosEmbedBuffer, [1, c.Frame, grid * grid, d]),
            ("pos_embed.proj.weight", [d, c.InChannels, p, p]),
            ("pos_embed.proj.bias", [d]),
        };
        for (int i = 0; i < c.NumLayers; i++)
        {
            string b = Block(i);
            keys.Add((b + "scale_shift_table", [6, d]));
            if (c.ShiftWindow) keys.Add((b + "proxy_scale_shift_table", [3, d]));
            AddAttention(keys, b + "proxy_attn1", c);
            AddAttention(keys, b + "attn1", c);
            AddAttention(keys, b + "pvisual_attn2", c);
            AddAttention(keys, b + "attn2", c);
            if (c.ShiftWindow)
            {
                AddAttention(keys, b + "attn3", c);
                AddLinear(keys, b + "linear_2", d, d);
            }
            AddLinear(keys, b + "ff.net.0.proj", d, c.FfDim);
            AddLinear(keys, b + "ff.net.2", c.FfDim, d);
            AddLinear(keys, b + "linear_1_visual", d, d);
        }
        AddLinear(keys, "proj_out", d, p * p * c.OutChannels);
        AddLinear(keys, "adaln_single.emb.timestep_embedder.linear_1", PtDitEmbeddings.TimestepChannels, d);
        AddLinear(keys, "adaln_single.emb.timestep_embedder.linear_2", d, d);
        AddLinear(keys, "adaln_single.linear", d, 6 * d);
        AddLinear(keys, "caption_projection.linear_1", c.CaptionChannels, d);
        AddLinear(keys, "caption_projection.linear_2", d, d);
        return keys;
    }

    /// <summary>Key prefix of block i.</summary>
    public static string Block(int i) => $"transformer_blocks.{i}.";

    static void AddLinear(List<(string, long[])> keys, string name, long inFeatures, long outFeatures, bool bias = true)
    {
        keys.Add((name + ".weight", [outFeatures, inFeatures]));
        if (bias) keys.Add((name + ".bias", [outFeatures]));
    }

    /// <summary>diffusers Attention: q/k/v with biases when attention_bias, to_out.0 always with a bias.</summary>
    static void AddAttention(List<(string, long[])> keys, string name, PtDitConfig c)
    {
        long d = c.Dim;
        AddLinear(keys, name + ".to_q", d, d, c.AttentionBias);
        AddLinear(keys, name + ".to_k", c.CrossAttentionDim, d, c.AttentionBias);
        AddLinear(keys, name + ".to_v", c.CrossAttentionDim, d, c.AttentionBias);
        AddLinear(keys, name + ".to_out.0", d, d);
    }
}
