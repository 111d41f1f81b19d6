using System.Globalization;
using System.Text;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Sampling;
using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Pipelines;

/// <summary>The checkpoint tensors a stage reads, by stored dtype.</summary>
public sealed record WeightGroup(DType DType, int Count, long Bytes);

/// <summary>
/// One stage of a generation and the device memory it needs: its weights as stored in the checkpoint (by dtype), the
/// bytes they take on the device, how many of those are on the device at once (T5 streamed: one block plus the
/// embedding), and its activations (with what it carries in from the stage before). Its peak is weights at once +
/// activations.
/// </summary>
public sealed record StagePlan(string Name, string Detail, IReadOnlyList<WeightGroup> Stored, long DeviceWeightBytes,
    long WeightBytesAtOnce, long ActivationBytes)
{
    public long PeakBytes => WeightBytesAtOnce + ActivationBytes;
    public int Tensors => Stored.Sum(g => g.Count);
}

/// <summary>
/// What a generation will load and how much device memory it needs, computed from the model folder's configs and
/// checkpoint headers only (no weight is read, nothing runs): the stages in order (T5 text encoder, PT-DiT sampler,
/// VAE decoder for latent models) and how they share the device.
/// <list type="bullet">
/// <item>Resident: every stage's weights stay loaded from one generation to the next (fast repeats) when all of them
/// plus the largest stage's activations fit in the budget.</item>
/// <item>Staged otherwise: each stage loads its weights and releases them before the next stage loads (T5 released
/// before the transformer is loaded, the transformer before the VAE decodes), so the peak is the largest stage, not
/// the sum. T5's blocks are streamed (one block's weights on the device at a time) when the whole encoder would not
/// fit: T5-XXL's 9.5 GB of fp16 weights alone exceed an 8 GB device.</item>
/// </list>
/// Activations: T5's scratch and the transformer's measured from their arenas, the VAE's from its decode's own steps
/// for the decode it will run (<see cref="VaePlan.Choose"/>); nothing is allocated. The pipeline tests check them
/// against the measured device peak.
/// </summary>
public sealed record GenerationPlan(IReadOnlyList<StagePlan> Stages, long BudgetBytes, bool KeepResident, bool StreamTextEncoder,
    int Width, int Height, int Frames, int LatentFrames)
{
    /// <summary>Requests generated together in one pass (T5 rows, sampler samples, decoded images).</summary>
    public int Batch { get; init; } = 1;

    /// <summary>Most device memory held at once (weights + activations).</summary>
    public long PeakBytes => KeepResident
        ? Stages.Sum(s => s.DeviceWeightBytes) + Stages.Max(s => s.ActivationBytes)
        : Stages.Max(s => s.PeakBytes);

    public bool Fits => PeakBytes <= BudgetBytes;

    /// <summary>The plan for one generation of <paramref name="frames"/>×<paramref name="height"/>×<paramref name="width"/>
    /// pixels within <paramref name="budgetBytes"/> of device memory, for <paramref name="batch"/> requests of that size
    /// made together. Throws (ArgumentException) when the model cannot make that size.</summary>
    public static GenerationPlan Make(ModelFolder folder, int width, int height, int frames, long budgetBytes, int batch = 1)
        => Make(ModelParts.Read(folder), width, height, frames, budgetBytes, batch);

    /// <summary>As <see cref="Make(ModelFolder, int, int, int, long, int)"/> with the model's configs already read.</summary>
    internal static GenerationPlan Make(ModelParts parts, int width, int height, int frames, long budgetBytes, int batch = 1)
    {
        if (batch < 1 || batch > MaxBatch) throw new ArgumentException($"batch must be between 1 and {MaxBatch}, got {batch}");
        var folder = parts.Folder;
        int latentFrames = parts.CheckSize(width, height, frames);
        int f = parts.PixelsPerLatent;
        var (text, streamedBytes) = TextEncoderStage(parts.T5, folder.TextEncoder, folder.MaxLength, batch);
        long textOut = TextConditioning.DeviceBytes(parts.T5, 2 * batch, folder.MaxLength);   // [cond; uncond] embeddings + mask
        var transformer = TransformerStage(parts.Transformer, folder.Transformer, latentFrames, height / f, width / f, folder.MaxLength, textOut, batch);
        // The VAE's decode is chosen for the memory left beside its weights: all other weights too when resident.
        GenerationPlan WithVae(bool resident, long otherWeights)
        {
            var stages = new List<StagePlan> { text, transformer };
            VaePlan? decode = null;
            if (parts.Vae is not null)
            {
                (var vae, decode) = VaeStage(parts.Vae, folder.Vae!, latentFrames, height / f, width / f, budgetBytes - otherWeights, batch);
                stages.Add(vae);
            }
            return new GenerationPlan(stages, budgetBytes, resident, false, width, height, frames, latentFrames) { VaeDecode = decode, Batch = batch };
        }
        var resident = WithVae(true, text.DeviceWeightBytes + transformer.DeviceWeightBytes);
        if (resident.Fits) return resident;
        var staged = WithVae(false, 0);
        if (text.PeakBytes <= budgetBytes) return staged;
        var stages = staged.Stages.ToList();
        stages[0] = text with { Detail = text.Detail + ", blocks streamed one at a time", WeightBytesAtOnce = streamedBytes };
        return staged with { Stages = stages, StreamTextEncoder = true };
    }

    /// <summary>How the VAE decodes (plain or tiled, and which tiles) within the budget; null for pixel-space models.</summary>
    public VaePlan? VaeDecode { get; init; }

    /// <summary>The most requests one pass takes.</summary>
    public const int MaxBatch = 256;

    /// <summary>
    /// The largest batch, up to <paramref name="limit"/>, whose plan fits <paramref name="budgetBytes"/> and decodes as
    /// one request alone would (the VAE tiles must be the same, so every image is the one a single generation makes);
    /// 1 when even one does not fit (the single generation then warns about the budget as it always has).
    /// </summary>
    public static int ChooseBatch(ModelFolder folder, int width, int height, int frames, long budgetBytes, int limit)
        => ChooseBatch(ModelParts.Read(folder), width, height, frames, budgetBytes, limit);

    internal static int ChooseBatch(ModelParts parts, int width, int height, int frames, long budgetBytes, int limit)
    {
        if (limit < 1) throw new ArgumentException($"batch limit must be at least 1, got {limit}");
        var single = Make(parts, width, height, frames, budgetBytes);
        int best = 1;
        for (int b = 2; b <= Math.Min(limit, MaxBatch); b++)
        {
            var plan = Make(parts, width, height, frames, budgetBytes, b);
            if (!plan.Fits || !SameDecode(plan.VaeDecode, single.VaeDecode)) break;
            best = b;
        }
        return best;
    }

    static bool SameDecode(VaePlan? a, VaePlan? b) => a is null ? b is null : b is not null && a.Tiled == b.Tiled && a.Tiles == b.Tiles;

    /// <summary>T5: the embedding and final norm, each block (fused q|k|v, o, the feed-forward, norms); the relative
    /// position table stays on the host. Activations: Encode's scratch for [cond; uncond] at max_length, measured from
    /// its arena (<see cref="T5Encoder.ScratchBytes"/>), + its output.
    /// Also returns the weight bytes on the device at once when the blocks are streamed (the embedding and final norm + the largest block).</summary>
    static (StagePlan stage, long streamedBytes) TextEncoderStage(T5Config c, string dir, int maxLength, int batch)
    {
        using var source = Checkpoint.OpenFolder(dir);
        var infos = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        string embedding = T5Config.EmbeddingKeys.FirstOrDefault(infos.ContainsKey)
            ?? throw new InvalidDataException($"text encoder '{dir}': no input embedding (looked for {string.Join(", ", T5Config.EmbeddingKeys)})");
        var names = c.LayerKeys().Select(k => k.name).Append(embedding).ToList();
        var missing = names.Where(n => !infos.ContainsKey(n)).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"text encoder '{dir}': the checkpoint lacks {missing.Count} tensors, e.g. {string.Join(", ", missing.Take(3))}");
        var device = names.Where(n => !n.Contains("relative_attention_bias")).Select(n => infos[n]).ToList();
        long all = device.Sum(Bytes);
        long outside = device.Where(t => T5Encoder.BlockOf(t.Name) is null).Sum(Bytes);
        long block = device.GroupBy(t => T5Encoder.BlockOf(t.Name) ?? -1).Where(g => g.Key >= 0).Select(g => g.Sum(Bytes)).DefaultIfEmpty(0).Max();

        long scratch = T5Encoder.ScratchBytes(c, 2 * batch, maxLength);
        long output = TextConditioning.DeviceBytes(c, 2 * batch, maxLength);
        string detail = $"{c.NumLayers} blocks, d_model {c.DModel}, {maxLength} tokens × [prompt; negative]" + (batch > 1 ? $" × {batch} requests" : "");
        return (new StagePlan("text encoder (T5)", detail, Groups(names.Select(n => infos[n])), all, all, scratch + output), outside + block);
    }

    /// <summary>PT-DiT: every checkpoint key the model reads (q|k|v fused on upload, same bytes; the stored position
    /// table stays on the host). Activations: the sampler's arenas as they would be allocated (the recorded run at
    /// batch 2 for guidance, the sampler's latents; <see cref="RectifiedFlowSampler.ActivationBytes"/>) + the text.</summary>
    static StagePlan TransformerStage(PtDitConfig c, string dir, int frames, int h, int w, int textLength, long carried, int batch)
    {
        using var source = Checkpoint.OpenFolder(dir);
        var infos = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var read = PtDitKeys.Expected(c).Where(k => infos.ContainsKey(k.Name)).Select(k => infos[k.Name]).ToList();
        long bytes = read.Where(t => t.Name != PtDitKeys.PosEmbedBuffer).Sum(Bytes);
        long T = new PtDitLayout(c, 2 * batch, frames, h / c.PatchSize, w / c.PatchSize, textLength).Tokens;
        long activations = RectifiedFlowSampler.ActivationBytes(c, batch, frames, h, w, textLength);
        string detail = $"{c.NumLayers} blocks, dim {c.Dim}, latents {frames}×{h}×{w}, {T} tokens × 2 (guidance)" + (batch > 1 ? $" × {batch} requests" : "");
        return new StagePlan("transformer (PT-DiT)", detail, Groups(read), bytes, bytes, activations + carried);
    }

    /// <summary>VAE decoder: decoder.* and post_quant_conv.* in the kernels' layouts (<see cref="VaeWeights.DeviceBytes"/>,
    /// folded time-tap copies included). Activations: the decode <see cref="VaePlan.Choose"/>
    /// chooses with <paramref name="freeBytes"/> left beside the weights (plain, the official tiles, or smaller tiles),
    /// or the image uploaded after it when that is larger.</summary>
    static (StagePlan stage, VaePlan decode) VaeStage(VaeConfig c, string dir, int frames, int h, int w, long freeBytes, int batch)
    {
        using var source = Checkpoint.OpenFolder(dir);
        var infos = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var keys = c.Keys().ToList();
        var missing = keys.Where(k => !infos.ContainsKey(k.name)).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"VAE '{dir}': the checkpoint lacks {missing.Count} tensors, e.g. {string.Join(", ", missing.Take(3).Select(m => m.name))}");
        long device = VaeWeights.DeviceBytes(c);
        long[] shape = [batch, c.EmbedDim, frames, h, w];
        var decode = VaePlan.Choose(c, shape, VaeTiling.Auto, freeBytes - device);
        long image = 3L * batch * c.OutputFrames(frames) * h * c.SpatialFactor * w * c.SpatialFactor * 4;
        long activations = Math.Max(decode.ActivationBytes(shape), image);
        var t = decode.Tiles;
        string detail = $"latents {frames}×{h}×{w} → {c.OutputFrames(frames)}×{h * c.SpatialFactor}×{w * c.SpatialFactor} px" +
                        (decode.Tiled ? $", tiled (tiles of {Math.Min(h, t.TileLatentMinSize)}×{Math.Min(w, t.TileLatentMinSize)} latents, " +
                                        (frames > 1 ? $"time chunks of {Math.Min(frames, t.TileLatentMinSizeT)} frames" : "one frame") +
                                        $"{(decode.Fallback ? ", smaller than the official tiles to fit" : "")})"
                                      : ", one plain decode");
        return (new StagePlan("VAE decoder", detail, Groups(keys.Select(k => infos[k.name])), device, device, activations), decode);
    }

    static long Bytes(TensorInfo t) => t.Elements * t.DType.Size();

    static List<WeightGroup> Groups(IEnumerable<TensorInfo> tensors) =>
        tensors.GroupBy(t => t.DType).OrderByDescending(g => g.Sum(Bytes)).Select(g => new WeightGroup(g.Key, g.Count(), g.Sum(Bytes))).ToList();

    public static string FormatBytes(long n)
    {
        var (unit, scale) = n >= 1L << 30 ? ("GiB", 1L << 30) : n >= 1L << 20 ? ("MiB", 1L << 20) : ("KiB", 1L << 10);
        return (n / (double)scale).ToString(unit == "GiB" ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " " + unit;
    }

    /// <summary>The plan as `t2x generate --dry-run` prints it.</summary>
    public string Format()
    {
        var sb = new StringBuilder();
        string size = (Frames > 1 ? $"{Frames} frames of {Width}x{Height}" : $"{Width}x{Height}") + (Batch > 1 ? $", {Batch} requests in one pass" : "");
        sb.AppendLine($"plan for {size}, device memory budget {FormatBytes(BudgetBytes)}");
        sb.AppendLine(KeepResident ? "  all stages stay loaded (they fit together)"
            : "  stages load and release their weights one after another" + (StreamTextEncoder ? "; T5 blocks streamed one at a time" : ""));
        int i = 1;
        foreach (var s in Stages)
        {
            sb.AppendLine($"{i++}. {s.Name}: {s.Detail}");
            string stored = string.Join(", ", s.Stored.Select(g => $"{g.Count} {g.DType.ToString().ToLowerInvariant()} ({FormatBytes(g.Bytes)})"));
            sb.AppendLine($"   weights: {s.Tensors} tensors, {stored}; {FormatBytes(s.DeviceWeightBytes)} ({s.DeviceWeightBytes} bytes) on the device" +
                          (s.WeightBytesAtOnce != s.DeviceWeightBytes ? $", at most {FormatBytes(s.WeightBytesAtOnce)} at once" : ""));
            sb.AppendLine($"   activations: {FormatBytes(s.ActivationBytes)}; stage peak {FormatBytes(s.PeakBytes)}");
        }
        sb.Append($"peak device memory: {FormatBytes(PeakBytes)} ({PeakBytes} bytes)" + (Fits ? "" : $" — more than the budget of {FormatBytes(BudgetBytes)}"));
        return sb.ToString();
    }
}
