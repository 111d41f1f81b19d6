using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Models.PtDit;

/// <summary>
/// The PT-DiT predictor on a Vulkan device: weights uploaded once; <see cref="Prepare"/> records the forward pass for one
/// (size, batch, text length) into command buffers that are resubmitted for every call at that size.
/// </summary>
public sealed class PtDitModel : IDisposable
{
    public Gpu Gpu { get; }
    public PtDitConfig Config { get; }
    public PtDitWeights Weights { get; }
    public AttentionMode Mode { get; }
    readonly bool _ownsWeights;

    public PtDitModel(Gpu gpu, PtDitWeights weights, AttentionMode mode = AttentionMode.Proxy, bool ownsWeights = true)
    {
        Gpu = gpu;
        Config = weights.Config;
        Weights = weights;
        Mode = mode;
        _ownsWeights = ownsWeights;
    }

    /// <summary>Loads a model folder: config.json (official keys at top level or under "predictor") and the weights
    /// (one safetensors / torch zip file, or an index json with shards).</summary>
    public static PtDitModel Load(Gpu gpu, string dir, AttentionMode mode = AttentionMode.Proxy)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"transformer folder '{dir}' does not exist");
        string configPath = Path.Combine(dir, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"transformer folder '{dir}' has no config.json", configPath);
        var config = PtDitConfig.Load(configPath);
        using var source = Checkpoint.OpenFolder(dir, "*");
        return new PtDitModel(gpu, PtDitWeights.Upload(gpu, config, source, mode), mode);
    }

    /// <summary>Records the forward pass for latents [batch, C, frames, height, width] and text of textLength tokens.</summary>
    public PtDitRun Prepare(int batch, int frames, int height, int width, int textLength)
        => new(this, batch, frames, height, width, textLength);

    /// <summary>One forward pass (records, runs, downloads): latents [B,C,F,H,W], timestep [B], text [B,L,Cc],
    /// mask [B,L] or null. Returns [B, out_channels, F, H, W].</summary>
    public float[] Forward(ReadOnlySpan<float> latents, int batch, int frames, int height, int width,
        ReadOnlySpan<float> timestep, ReadOnlySpan<float> text, int textLength, ReadOnlySpan<float> mask)
    {
        using var run = Prepare(batch, frames, height, width, textLength);
        run.SetText(text, mask);
        run.SetTimesteps(timestep);
        return run.Forward(latents);
    }

    public void Dispose()
    {
        if (_ownsWeights) Weights.Dispose();
    }
}

/// <summary>
/// The recorded forward pass of a <see cref="PtDitModel"/> at one size: device inputs and outputs, the activations
/// (allocated once from one <see cref="TensorArena"/>, reused by every block and call), a text sequence (caption projection and every block's text
/// keys/values, run when the text changes) and the forward sequence (run per call; only the timestep sinusoid
/// changes between sampler steps).
/// </summary>
public sealed class PtDitRun : IDisposable
{
    public PtDitModel Model { get; }
    public int Batch { get; }
    public int Frames { get; }
    public int Height { get; }
    public int Width { get; }
    public int TextLength { get; }

    /// <summary>Input latents [B, C, F, H, W] (f32).</summary>
    public Tensor Latents { get; }
    /// <summary>Output [B, out_channels, F, H, W] (f32).</summary>
    public Tensor Output { get; }

    internal readonly PtDitLayout Layout;
    internal readonly PtDitActivations Act;
    readonly Sequence _textSequence;
    Sequence? _forward;   // recorded on the first Run: a sampler records the forward into its own step instead
    readonly List<IDisposable> _owned = [];
    bool _textSet, _timeSet;

    internal PtDitRun(PtDitModel model, int batch, int frames, int height, int width, int textLength)
    {
        var c = model.Config;
        if (batch < 1) throw new ArgumentException($"batch must be at least 1, got {batch}");
        if (textLength < 1) throw new ArgumentException($"text length must be at least 1, got {textLength}");
        c.CheckLatentSize(frames, height, width);
        Model = model;
        (Batch, Frames, Height, Width, TextLength) = (batch, frames, height, width, textLength);
        Layout = new PtDitLayout(c, batch, frames, height / c.PatchSize, width / c.PatchSize, textLength);
        var gpu = model.Gpu;
        try
        {
            var layout = Layout;
            Own(TensorArena.Allocate(gpu, arena => Allocate(arena, layout, frames, height, width, model.Mode), out var tensors));
            (Latents, Output, Act) = tensors;
            UploadConstants();
            _textSequence = Own(new Sequence(gpu));
            RecordText(_textSequence);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    T Own<T>(T d) where T : IDisposable { _owned.Add(d); return d; }

    /// <summary>Input latents [B, C, F, H, W], output [B, out_channels, F, H, W] and the activations, from one arena.</summary>
    static (Tensor Latents, Tensor Output, PtDitActivations Act) Allocate(TensorArena arena, PtDitLayout l, int frames, int height, int width,
        AttentionMode mode)
    {
        var c = l.Config;
        var latents = arena.F32(l.B, c.InChannels, frames, height, width);
        var output = arena.F32(l.B, c.OutChannels, frames, height, width);
        return (latents, output, new PtDitActivations(arena, l, mode));
    }

    /// <summary>Device bytes a run of this size allocates (measured, nothing allocated): what a memory plan counts.</summary>
    internal static long ActivationBytes(PtDitConfig c, int batch, int frames, int height, int width, int textLength, AttentionMode mode = AttentionMode.Proxy)
    {
        var l = new PtDitLayout(c, batch, frames, height / c.PatchSize, width / c.PatchSize, textLength);
        return TensorArena.MeasureBytes(arena => Allocate(arena, l, frames, height, width, mode));
    }

    /// <summary>The position table in window order, and the token → rolled-row batch ids of the shifted windows.</summary>
    void UploadConstants()
    {
        var c = Model.Config;
        var L = Layout;
        var window = new WindowSize(L.Cf, L.Ch, L.Cw);
        float[] grid;
        var stored = Model.Weights.PositionBuffer;
        if (stored != null && L.H == c.SampleSize / c.PatchSize && L.W == c.SampleSize / c.PatchSize && L.F == c.Frame)
            grid = stored;   // the official code uses its stored buffer exactly at the grid it was built for
        else
            grid = PtDitEmbeddings.PositionTable(L.F, L.H, L.W, c.Dim, c.PosInterpolationScale);
        Act.Position.Upload(PtDitEmbeddings.ToWindowOrder(grid, L.F, L.H, L.W, c.Dim, window));
        Act.ShiftedRowSample.Buffer.Upload<int>(L.ShiftedRowSample(), Act.ShiftedRowSample.Offset);
    }

    /// <summary>Uploads the text [B, L, caption_channels] and its mask [B, L] (empty: keep all) and runs the text sequence.</summary>
    public void SetText(ReadOnlySpan<float> text, ReadOnlySpan<float> mask)
    {
        var c = Model.Config;
        long want = (long)Batch * TextLength * c.CaptionChannels;
        if (text.Length != want) throw new ArgumentException($"encoder_hidden_states: {text.Length} values, expected [{Batch}, {TextLength}, {c.CaptionChannels}]");
        if (mask.Length != 0 && mask.Length != Batch * TextLength) throw new ArgumentException($"encoder_attention_mask: {mask.Length} values, expected [{Batch}, {TextLength}]");
        Act.Text.Upload(text);
        if (mask.Length == 0) { var ones = new float[Batch * TextLength]; Array.Fill(ones, 1f); Act.Mask.Upload(ones); }
        else Act.Mask.Upload(mask);
        _textSequence.Run();
        _textSet = true;
    }

    /// <summary>Takes the text [B, L, caption_channels] and its mask [B, L] from device tensors (the text encoder's
    /// output stays on the device) and runs the text sequence.</summary>
    public void SetText(Tensor text, Tensor mask)
    {
        var c = Model.Config;
        if (!text.Shape.SequenceEqual(new long[] { Batch, TextLength, c.CaptionChannels }) || text.DType != DType.F32)
            throw new ArgumentException($"encoder_hidden_states: expected f32 [{Batch}, {TextLength}, {c.CaptionChannels}], got {text}");
        if (mask.Elements != (long)Batch * TextLength || mask.DType != DType.F32)
            throw new ArgumentException($"encoder_attention_mask: expected f32 [{Batch}, {TextLength}], got {mask}");
        using (var copy = new Sequence(Model.Gpu))
        {
            copy.Copy(text, Act.Text);
            copy.Copy(mask, Act.Mask.Reshape(mask.Shape));
            copy.Run();
        }
        _textSequence.Run();
        _textSet = true;
    }

    /// <summary>Sets the timestep of every batch row (the host computes the float32 sinusoid; the device does the rest).</summary>
    public void SetTimesteps(ReadOnlySpan<float> timestep)
    {
        if (timestep.Length != Batch) throw new ArgumentException($"timestep: {timestep.Length} values, expected [{Batch}]");
        var s = new float[Batch * PtDitEmbeddings.TimestepChannels];
        for (int b = 0; b < Batch; b++) PtDitEmbeddings.TimestepSinusoid(timestep[b]).CopyTo(s, b * PtDitEmbeddings.TimestepChannels);
        Act.Sinusoid.Upload(s);
        _timeSet = true;
    }

    /// <summary>Uploads the latents, runs the recorded forward pass and returns the output [B, out_channels, F, H, W].</summary>
    public float[] Forward(ReadOnlySpan<float> latents)
    {
        Latents.Upload(latents);
        Run();
        return Output.ToArray();
    }

    /// <summary>Runs the recorded forward pass on the device-side Latents into Output.</summary>
    public void Run()
    {
        if (!_textSet || !_timeSet) throw new InvalidOperationException("set the text and the timesteps before running the forward pass");
        if (_forward is null)
        {
            _forward = Own(new Sequence(Model.Gpu));
            RecordForward(_forward);
        }
        _forward.Run();
    }

    /// <summary>Records the caption projection and each block's text keys/values (they do not change between sampler steps).</summary>
    void RecordText(Sequence seq)
    {
        var w = Model.Weights;
        var a = Act;
        Gemm.Record(seq, a.Text, w["caption_projection.linear_1.weight"], w["caption_projection.linear_1.bias"], a.CaptionHidden, Epilogue.Gelu);
        Gemm.Record(seq, a.CaptionHidden, w["caption_projection.linear_2.weight"], w["caption_projection.linear_2.bias"], a.Context);
        for (int i = 0; i < Model.Config.NumLayers; i++)
        {
            string k = PtDitKeys.Block(i) + "attn2.to_kv";
            Gemm.Record(seq, a.Context, w[k + ".weight"], w.Optional(k + ".bias"), a.TextKv(i));
        }
    }

    /// <summary>Records the whole forward pass (docs/ptdit.md §4 to §8) from Latents to Output into a sequence.</summary>
    public void RecordForward(Sequence seq)
    {
        var c = Model.Config;
        var w = Model.Weights;
        var a = Act;
        var L = Layout;
        var window = new WindowSize(L.Cf, L.Ch, L.Cw);

        // 4.1–4.2 patch embedding (a GEMM over patches in window order) plus the position table.
        Patchify.Record(seq, Latents, a.Patches, c.PatchSize, window);
        var proj = w["pos_embed.proj.weight"];
        Gemm.Record(seq, a.Patches, proj.Reshape(proj.Shape[0], proj.Elements / proj.Shape[0]), w["pos_embed.proj.bias"], a.X);
        BroadcastAdd.Record(seq, a.X, a.Position, a.X);

        // 4.3 timestep embedding: temb [B, D] and temb6 [B, 6D].
        const string t = "adaln_single.emb.timestep_embedder.";
        Gemm.Record(seq, a.Sinusoid, w[t + "linear_1.weight"], w[t + "linear_1.bias"], a.TembHidden, Epilogue.Silu);
        Gemm.Record(seq, a.TembHidden, w[t + "linear_2.weight"], w[t + "linear_2.bias"], a.Temb);
        Activation.Record(seq, ActivationKind.Silu, a.Temb, a.TembSilu);
        Gemm.Record(seq, a.TembSilu, w["adaln_single.linear.weight"], w["adaln_single.linear.bias"], a.Temb6);

        // 7. the blocks.
        for (int i = 0; i < c.NumLayers; i++)
            PtDitBlock.Record(seq, Model, i, L, a);

        // 8. final layer: shift/scale from temb with the per-sample mapping (rowDiv = tokens per sample), then unpatchify.
        Modulation.Record(seq, w["scale_shift_table"], a.Temb, a.FinalMod);
        LayerNorm.Record(seq, a.X, a.Y, 1e-6f, a.FinalMod.Slice(0, 1).Reshape(L.B, c.Dim), a.FinalMod.Slice(1, 1).Reshape(L.B, c.Dim), L.Tokens);
        Gemm.Record(seq, a.Y, w["proj_out.weight"], w["proj_out.bias"], a.FinalTokens);
        Unpatchify.Record(seq, a.FinalTokens, Output, c.PatchSize, window);
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
    }
}
