using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>One PT-DiT block (docs/ptdit.md §7), parameters under the official names.</summary>
public sealed class PtDitBlock : NamedModule
{
    readonly Parameter scaleShiftTable, proxyScaleShiftTable;
    readonly Attention proxyAttn1, attn1, pvisualAttn2, attn2, attn3;
    readonly Linear linear2, ff1, ff2, linear1Visual;

    public PtDitBlock(int width, int heads) : base("PtDitBlock")
    {
        scaleShiftTable = new Parameter(randn(6, width) / Math.Sqrt(width));
        proxyScaleShiftTable = new Parameter(randn(3, width) / Math.Sqrt(width));
        proxyAttn1 = new Attention(width, width, heads);
        attn1 = new Attention(width, width, heads);
        pvisualAttn2 = new Attention(width, width, heads);
        attn2 = new Attention(width, width, heads);
        attn3 = new Attention(width, width, heads);
        linear2 = nn.Linear(width, width);
        ff1 = nn.Linear(width, 4 * width);
        ff2 = nn.Linear(4 * width, width);
        linear1Visual = nn.Linear(width, width);
        register_parameter("scale_shift_table", scaleShiftTable);
        register_parameter("proxy_scale_shift_table", proxyScaleShiftTable);
        register_module("proxy_attn1", proxyAttn1);
        register_module("attn1", attn1);
        register_module("pvisual_attn2", pvisualAttn2);
        register_module("attn2", attn2);
        register_module("attn3", attn3);
        register_module("linear_2", linear2);
        register_module("ff", new Container(("net", new ModuleList<nn.Module>(new Container(("proj", ff1)), nn.Dropout(0), ff2))));
        register_module("linear_1_visual", linear1Visual);
        // As in training the released model: the proxy-to-visual and shifted-window outputs start at zero (docs/ptdit.md, quirk Q11).
        using (no_grad())
        {
            linear1Visual.weight!.zero_(); linear1Visual.bias!.zero_();
            linear2.weight!.zero_(); linear2.bias!.zero_();
        }
    }

    /// <param name="x">[B*P, N, D] hidden states, window layout.</param>
    /// <param name="t6">[B*P, 6, D] timestep projection per window row.</param>
    /// <param name="ctx">[B, L, D] projected caption; <paramref name="textBias"/> [B, 1, 1, L].</param>
    /// <param name="shiftBias">[B*P, 1, N, N] shifted-window mask.</param>
    public Tensor Forward(Tensor x, Tensor t6, Tensor ctx, Tensor textBias, Tensor shiftBias, WindowLayout layout)
    {
        using var scope = NewDisposeScope();
        long rows = x.shape[0], n = x.shape[1], d = x.shape[2], p = layout.Windows, b = rows / p;
        var mod = scaleShiftTable.unsqueeze(0) + t6;                          // [B*P, 6, D]
        var sw = proxyScaleShiftTable.unsqueeze(0) + t6.narrow(1, 0, 3);      // [B*P, 3, D]
        Tensor Row(Tensor m, int j) => m.narrow(1, j, 1);                     // [B*P, 1, D], broadcast over tokens

        // 1. Proxy tokens (mean of each window) and their self-attention over one sample's windows.
        var proxies = x.mean([1]).view(b, p, d);
        proxies = proxies + proxyAttn1.Forward(Ops.LayerNorm(proxies), Ops.LayerNorm(proxies));

        // 2. Visual tokens query the proxies; no gate.
        var visual = pvisualAttn2.Forward(Ops.LayerNorm(x).view(b, p * n, d), Ops.LayerNorm(proxies));
        x = x + linear1Visual.forward(visual).view(rows, n, d);

        // 3. Window self-attention.
        var y = Ops.Modulate(Ops.LayerNorm(x), Row(mod, 0), Row(mod, 1));
        x = x + Row(mod, 2) * attn1.Forward(y, y);

        // 4. Shifted-window self-attention; the gate sits before linear_2 (docs/ptdit.md, quirk Q10).
        var ys = Ops.Modulate(Ops.LayerNorm(layout.RollForward(x)), Row(sw, 0), Row(sw, 1));
        var a = layout.RollBack(attn3.Forward(ys, ys, shiftBias));
        x = x + linear2.forward(Row(sw, 2) * a);

        // 5. Text cross-attention on the raw residual stream (no norm, no modulation).
        var xt = x.view(b, p * n, d);
        x = (xt + attn2.Forward(xt, ctx, textBias)).view(rows, n, d);

        // 6. Feed-forward.
        y = Ops.Modulate(Ops.LayerNorm(x), Row(mod, 3), Row(mod, 4));
        x = x + Row(mod, 5) * ff2.forward(Ops.GeluTanh(ff1.forward(y)));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>The PT-DiT predictor (class PTDiTDiffuser) for one-frame images, parameters in the official key layout.</summary>
public sealed class PtDit : NamedModule
{
    public readonly ModelConfig Config;
    readonly Conv2d patchEmbed;
    readonly ModuleList<PtDitBlock> blocks;
    readonly Parameter finalScaleShift;
    readonly Linear projOut, timeLinear1, timeLinear2, adalnLinear, captionLinear1, captionLinear2;

    public PtDit(ModelConfig config) : base("PtDit")
    {
        Config = config;
        int d = config.Width, p = config.PatchSize;
        patchEmbed = nn.Conv2d(config.InChannels, d, kernel_size: p, stride: p);
        blocks = new ModuleList<PtDitBlock>(Enumerable.Range(0, config.NumLayers).Select(_ => new PtDitBlock(d, config.NumHeads)).ToArray());
        finalScaleShift = new Parameter(randn(2, d) / Math.Sqrt(d));
        projOut = nn.Linear(d, p * p * config.OutChannels);
        timeLinear1 = nn.Linear(256, d);
        timeLinear2 = nn.Linear(d, d);
        adalnLinear = nn.Linear(d, 6 * d);
        captionLinear1 = nn.Linear(config.TextWidth, d);
        captionLinear2 = nn.Linear(d, d);
        register_parameter("scale_shift_table", finalScaleShift);
        register_module("pos_embed", new Container(("proj", patchEmbed)));
        register_module("transformer_blocks", blocks);
        register_module("proj_out", projOut);
        register_module("adaln_single", new Container(
            ("emb", new Container(("timestep_embedder", new Container(("linear_1", timeLinear1), ("linear_2", timeLinear2))))),
            ("linear", adalnLinear)));
        register_module("caption_projection", new Container(("linear_1", captionLinear1), ("linear_2", captionLinear2)));
        using (no_grad())
        {
            projOut.weight!.zero_(); projOut.bias!.zero_(); // PixArt-style zero start of the output head
            nn.init.normal_(adalnLinear.weight!, 0, 0.02);
        }
    }

    /// <summary>
    /// x [B, C, H, W] pixels (noisy), t [B] time in [0, 1000], text [B, L, TextWidth] T5 states, mask [B, L] (1 keep, 0 pad).
    /// Returns [B, OutChannels, H, W]; the velocity is channels [0, C).
    /// </summary>
    public Tensor Forward(Tensor x, Tensor t, Tensor text, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0];
        int d = Config.Width, pch = Config.PatchSize, h = (int)x.shape[2] / pch, w = (int)x.shape[3] / pch;
        var layout = new WindowLayout(h, w, Config.Window);
        int windows = layout.Windows, n = layout.TokensPerWindow;

        // Embeddings: patches + fixed sin-cos table; timestep (adaLN-single); caption projection and text bias.
        var grid = patchEmbed.forward(x).permute(0, 2, 3, 1) + PositionTable(h, w, d).view(1, h, w, d);
        var hidden = layout.ToWindows(grid);
        var temb = timeLinear2.forward(nn.functional.silu(timeLinear1.forward(TimestepSinusoid(t))));
        var t6 = adalnLinear.forward(nn.functional.silu(temb)).view(b, 1, 6, d).expand(b, windows, 6, d).reshape(b * windows, 6, d);
        var ctx = captionLinear2.forward(Ops.GeluTanh(captionLinear1.forward(text)));
        var textBias = ((1 - mask) * -10000f).view(b, 1, 1, -1);
        var shiftBias = layout.ShiftMask().unsqueeze(1).repeat(b, 1, 1, 1);

        foreach (var block in blocks) hidden = block.Forward(hidden, t6, ctx, textBias, shiftBias, layout);

        // Final layer: modulated LayerNorm with temb, projection, unpatchify from the window order.
        var shift = finalScaleShift[0].unsqueeze(0) + temb;
        var scale = finalScaleShift[1].unsqueeze(0) + temb;
        var z = Ops.Modulate(Ops.LayerNorm(hidden.view(b, windows * n, d)), shift.unsqueeze(1), scale.unsqueeze(1));
        var o = projOut.forward(z).view(b, layout.WindowRows, layout.WindowCols, Config.Window, Config.Window, pch, pch, Config.OutChannels);
        return o.permute(0, 7, 1, 3, 5, 2, 4, 6).reshape(b, Config.OutChannels, h * pch, w * pch).MoveToOuterDisposeScope();
    }

    /// <summary>e(t) = [cos(t f_k) | sin(t f_k)], f_k = exp(-ln(10000) k / 128), k &lt; 128 (diffusers Timesteps(256, flip_sin_to_cos)).</summary>
    public static Tensor TimestepSinusoid(Tensor t)
    {
        var freq = tensor(Enumerable.Range(0, 128).Select(k => (float)Math.Exp(-Math.Log(10000) * k / 128)).ToArray());
        var angles = t.to_type(float32).unsqueeze(1) * freq.unsqueeze(0);
        return cat([cos(angles), sin(angles)], 1);
    }

    /// <summary>The fixed 3-D sin-cos table for one frame, [h*w, D] (docs/ptdit.md §4.2, including the non-square quirk Q2).</summary>
    public static Tensor PositionTable(int h, int w, int d)
    {
        var table = new float[h * w * d];
        int kt = d / 8, ks = 3 * d / 16;
        for (int idx = 0; idx < h * w; idx++)
        {
            int a = idx % h, q = idx / h;
            var row = table.AsSpan(idx * d, d);
            SinCos(row[..(2 * kt)], kt, 0);
            SinCos(row.Slice(2 * kt, 2 * ks), ks, a);
            SinCos(row.Slice(2 * kt + 2 * ks, 2 * ks), ks, q);
        }
        return tensor(table).view(h * w, d);
    }

    static void SinCos(Span<float> dst, int k, double pos)
    {
        for (int i = 0; i < k; i++)
        {
            double omega = Math.Pow(10000, -(double)i / k);
            dst[i] = (float)Math.Sin(pos * omega);
            dst[k + i] = (float)Math.Cos(pos * omega);
        }
    }
}
