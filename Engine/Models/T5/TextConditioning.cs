using T2X.Vulkan.Text;

namespace T2X.Vulkan.Models.T5;

/// <summary>
/// The text side of a generation, as the Qihoo pipeline prepares it (docs/t5.md §1): prompts and
/// the negative prompt (default "") tokenized to max_length and encoded as one batch [cond; uncond], conditional
/// rows first. The embeddings stay on the device for the transformer's caption projection. Unless asked to encode the
/// padding, the batch is cut after the last real token of its longest text: every later position is padding in every
/// row, which the encoder's and the transformer's masks give attention weight exactly 0, so the image is bit for bit
/// the same, and a short prompt costs its own length instead of max_length (docs/t5.md, quirk T6).
/// </summary>
public sealed class TextConditioning : IDisposable
{
    readonly TensorArena _device;   // holds Embeddings and Mask

    /// <summary>last_hidden_state f32 [2B, L, d_model]: rows 0..B−1 the prompts, rows B..2B−1 the negative prompt. L is
    /// max_length with encodePadding, else the longest text's length (<see cref="TokenBatch.RealLength"/>).</summary>
    public Tensor Embeddings { get; }
    /// <summary>The attention mask as f32 [2B, L] on the device (1 = token, 0 = padding), for key masking.</summary>
    public Tensor Mask { get; }
    /// <summary>The ids and mask that were encoded (host copies, int64 [2B, L]).</summary>
    public TokenBatch Tokens { get; }
    /// <summary>L, the positions encoded per text.</summary>
    public int Length => Tokens.MaxLength;
    /// <summary>The texts after preparation (cleaned prompts, then the lower-cased negative prompts).</summary>
    public IReadOnlyList<string> Texts { get; }

    TextConditioning(TensorArena device, Tensor embeddings, Tensor mask, TokenBatch tokens, IReadOnlyList<string> texts)
    {
        _device = device;
        Embeddings = embeddings;
        Mask = mask;
        Tokens = tokens;
        Texts = texts;
    }

    /// <summary>
    /// What the pipeline feeds the tokenizer. With <paramref name="cleanCaption"/> (the official default) a prompt goes
    /// through the caption cleaner and the negative prompt is lower-cased and stripped; without it both pass unchanged.
    /// </summary>
    public static IReadOnlyList<string> PrepareTexts(IReadOnlyList<string> prompts, string negativePrompt, bool cleanCaption)
        => PrepareTexts(prompts, Enumerable.Repeat(negativePrompt, prompts.Count).ToArray(), cleanCaption);

    /// <summary>As above with one negative prompt per prompt (a batch of different requests).</summary>
    public static IReadOnlyList<string> PrepareTexts(IReadOnlyList<string> prompts, IReadOnlyList<string> negativePrompts, bool cleanCaption)
    {
        if (negativePrompts.Count != prompts.Count)
            throw new ArgumentException($"{negativePrompts.Count} negative prompts for {prompts.Count} prompts");
        var texts = new List<string>();
        foreach (var p in prompts) texts.Add(cleanCaption ? CaptionCleaner.Clean(p) : p);
        foreach (var n in negativePrompts) texts.Add(cleanCaption ? CaptionCleaner.LowerStrip(n) : n);
        return texts;
    }

    /// <summary>True when keeping the encoder would leave less free device memory than the encoder itself takes.</summary>
    public static bool MemoryIsShort(Gpu gpu, T5Encoder encoder)
        => (ulong)(gpu.AllocatedBytes + encoder.WeightBytes) > gpu.Info.DeviceLocalBytes;

    /// <summary>
    /// Tokenizes and encodes [prompts; negative prompt × B]. <paramref name="releaseEncoder"/>: free the encoder's
    /// weights afterwards (null: when <see cref="MemoryIsShort"/>), so the transformer and VAE fit on small devices.
    /// <paramref name="encodePadding"/>: encode all max_length positions, as transformers' last_hidden_state has them,
    /// instead of cutting the batch after its longest text.
    /// </summary>
    public static TextConditioning Encode(T5Tokenizer tokenizer, T5Encoder encoder, IReadOnlyList<string> prompts,
        string negativePrompt = "", int maxLength = 200, bool cleanCaption = true, bool? releaseEncoder = null, bool encodePadding = false)
        => Encode(tokenizer, encoder, prompts, Enumerable.Repeat(negativePrompt, prompts.Count).ToArray(), maxLength, cleanCaption,
            releaseEncoder, encodePadding);

    /// <summary>Tokenizes and encodes [prompts; negative prompts], one negative prompt per prompt (rows B + i: request
    /// i's negative prompt), as one batch of 2B rows.</summary>
    public static TextConditioning Encode(T5Tokenizer tokenizer, T5Encoder encoder, IReadOnlyList<string> prompts,
        IReadOnlyList<string> negativePrompts, int maxLength = 200, bool cleanCaption = true, bool? releaseEncoder = null,
        bool encodePadding = false)
    {
        if (prompts.Count == 0) throw new ArgumentException("no prompt to encode");
        var texts = PrepareTexts(prompts, negativePrompts, cleanCaption);
        var tokens = tokenizer.EncodeBatch(texts, maxLength);
        if (!encodePadding) tokens = tokens.Prefix(tokens.RealLength);
        var gpu = encoder.Gpu;
        var device = TensorArena.Allocate(gpu, arena => AllocateDevice(arena, encoder.Config, texts.Count, tokens.MaxLength), out var t);
        try
        {
            encoder.Encode(tokens.InputIds, tokens.AttentionMask, texts.Count, tokens.MaxLength, t.Embeddings);
            t.Mask.Upload(Array.ConvertAll(tokens.AttentionMask, m => (float)m));
            if (releaseEncoder ?? MemoryIsShort(gpu, encoder)) encoder.Release();
            return new TextConditioning(device, t.Embeddings, t.Mask, tokens, texts);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>The device tensors of the text of <paramref name="rows"/> texts of <paramref name="length"/> tokens: the
    /// embeddings [rows, length, d_model] and the mask [rows, length].</summary>
    static (Tensor Embeddings, Tensor Mask) AllocateDevice(TensorArena arena, T5Config c, int rows, int length)
        => (arena.F32(rows, length, c.DModel), arena.F32(rows, length));

    /// <summary>Device bytes the text of <paramref name="rows"/> texts of <paramref name="length"/> tokens takes (measured,
    /// nothing allocated): what a memory plan counts for T5's output while the transformer reads it.</summary>
    public static long DeviceBytes(T5Config c, int rows, int length)
        => TensorArena.MeasureBytes(arena => AllocateDevice(arena, c, rows, length));

    public void Dispose() => _device.Dispose();
}
