using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Text;
using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Pipelines;

/// <summary>A model folder that does not hold together; <see cref="Problems"/> names every mismatch with its file.</summary>
public sealed class ModelCheckException(string root, IReadOnlyList<string> problems)
    : IOException($"model folder '{root}' has {problems.Count} problem{(problems.Count == 1 ? "" : "s")}: {string.Join(" | ", problems)}")
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>What <see cref="ModelCheck"/> found: one line per part that matched, notes (keys the model ignores), and the problems.</summary>
public sealed record ModelCheckResult(IReadOnlyList<string> Matched, IReadOnlyList<string> Notes, IReadOnlyList<string> Problems)
{
    public bool Ok => Problems.Count == 0;
}

/// <summary>
/// Checks that a model folder's parts fit together, from the configs and the checkpoint headers alone (no tensor data is
/// read, nothing goes to a device): every config parses; every key the model reads is in its checkpoint with the shape
/// its config implies; weights are floating point (f32, f16, bf16); the caption width the transformer expects is what the
/// text encoder gives; the tokenizer's ids fit the text encoder's vocabulary; the transformer's latent channels are what
/// the VAE decodes. Every part is checked even when another fails, and every problem names its file (relative to the
/// folder; a symbolic link also names the file it points to). `t2x import` runs it before publishing a folder and
/// `t2x import --check` on an existing one.
/// </summary>
public static class ModelCheck
{
    /// <summary>Throws <see cref="ModelCheckException"/> when anything does not match.</summary>
    public static ModelCheckResult Require(string dir)
    {
        var result = Run(dir);
        return result.Ok ? result : throw new ModelCheckException(dir, result.Problems);
    }

    public static ModelCheckResult Run(string dir)
    {
        var matched = new List<string>();
        var notes = new List<string>();
        var problems = new List<string>();
        string root = Path.GetFullPath(dir);
        void Try(Action check)
        {
            try { check(); }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or NotSupportedException or System.Text.Json.JsonException or UnauthorizedAccessException)
            {
                problems.Add(Names(root, e.Message));
            }
        }

        ModelFolder? folder = null;
        Try(() => folder = ModelFolder.Open(root));
        if (folder is null) return new ModelCheckResult(matched, notes, problems);

        string Show(string path) => Names(root, path);
        string Config(string part) => Path.Combine(part, "config.json");

        // Transformer: config, then its one weights file against the keys and shapes the config implies.
        PtDitConfig? transformer = null;
        Try(() => transformer = PtDitConfig.Load(RequireFile(Config(folder.Transformer))));
        if (transformer is not null)
            Try(() =>
            {
                string file = Checkpoint.FindWeights(folder.Transformer);
                using var source = Checkpoint.Open(file);
                var expected = PtDitKeys.Expected(transformer);
                var m = CheckpointKeys.Compare(source.Tensors, expected, [PtDitKeys.PosEmbedBuffer]);
                if (CheckpointKeys.Describe(m, allowUnexpected: true, max: 6) is { } keys)
                    problems.Add($"{Show(file)}: does not match {Show(Config(folder.Transformer))}: {keys}");
                else matched.Add($"transformer: {Show(file)}: {Summary(source.Tensors)}; {transformer.NumLayers} blocks, width {transformer.Dim}, keys and shapes as {Show(Config(folder.Transformer))} implies");
                if (m.Unexpected.Count > 0) notes.Add($"{Show(file)}: {m.Unexpected.Count} keys the model does not read (ignored, as the official loader ignores them): {CheckpointKeys.List(m.Unexpected, 5)}");
                Floats(file, source.Tensors, problems, Show);
            });

        // Text encoder: config, the weights (an index json and its shards, or one file), the tokenizer's vocabulary.
        T5Config? t5 = null;
        Try(() => t5 = T5Config.FromFolder(folder.TextEncoder));
        if (t5 is not null)
        {
            Try(() =>
            {
                string file = Checkpoint.FindWeights(folder.TextEncoder);
                using var source = Checkpoint.Open(file);
                var m = CheckpointKeys.Compare(source.Tensors, t5.ExpectedKeys(source.Tensors));
                if (CheckpointKeys.Describe(m, allowUnexpected: true, max: 6) is { } keys)
                    problems.Add($"{Show(file)}: does not match {Show(Config(folder.TextEncoder))}: {keys}");
                else matched.Add($"text encoder: {Show(file)}: {Summary(source.Tensors)}; {t5.NumLayers} blocks, d_model {t5.DModel}, keys and shapes as {Show(Config(folder.TextEncoder))} implies");
                if (m.Unexpected.Count > 0) notes.Add($"{Show(file)}: {m.Unexpected.Count} keys the encoder does not read (ignored): {CheckpointKeys.List(m.Unexpected, 5)}");
                Floats(file, source.Tensors, problems, Show);
            });
            Try(() =>
            {
                string spiece = Path.Combine(folder.Tokenizer, "spiece.model");
                var tokenizer = T5Tokenizer.FromFolder(folder.Tokenizer);
                if (tokenizer.VocabSize > t5.VocabSize)
                    problems.Add($"{Show(spiece)}: gives token ids up to {tokenizer.VocabSize - 1} (its pieces and 100 sentinels), but {Show(Config(folder.TextEncoder))} has vocab_size = {t5.VocabSize}");
                else matched.Add($"tokenizer: {Show(spiece)}: ids 0..{tokenizer.VocabSize - 1} (sentinels included), within vocab_size {t5.VocabSize}");
            });
        }

        // VAE (latent models): config, then decoder.* and post_quant_conv.* in its weights.
        VaeConfig? vae = null;
        if (folder.Vae is not null)
        {
            Try(() => vae = VaeConfig.Load(RequireFile(Config(folder.Vae))));
            if (vae is not null)
                Try(() =>
                {
                    string file = Checkpoint.FindWeights(folder.Vae);
                    using var source = Checkpoint.Open(file);
                    var m = CheckpointKeys.Compare(source.Tensors, vae.Keys());
                    if (CheckpointKeys.Describe(m, allowUnexpected: true, max: 6) is { } keys)
                        problems.Add($"{Show(file)}: does not match {Show(Config(folder.Vae))}: {keys}");
                    else matched.Add($"VAE: {Show(file)}{(source is TorchCheckpoint { Wrapper: { } w } ? $" (weights under \"{w}\")" : "")}: " +
                                     $"{m.Unexpected.Count} other tensors (encoder, loss) not read; decoder keys and shapes as {Show(Config(folder.Vae))} implies, {vae.EmbedDim} latent channels");
                    var read = vae.Keys().Select(k => k.name).ToHashSet(StringComparer.Ordinal);
                    Floats(file, source.Tensors.Where(t => read.Contains(t.Name)).ToList(), problems, Show);
                });
        }

        // How the parts meet: caption width, latent channels.
        if (transformer is not null && t5 is not null)
        {
            if (transformer.CaptionChannels != t5.DModel)
                problems.Add($"caption width: {Show(Config(folder.Transformer))} has caption_channels = {transformer.CaptionChannels}, " +
                             $"but the text encoder gives d_model = {t5.DModel} ({Show(Config(folder.TextEncoder))})");
            else matched.Add($"caption width: caption_channels {transformer.CaptionChannels} = the text encoder's d_model");
        }
        if (transformer is not null && folder.Vae is null && transformer.InChannels != 3)
            problems.Add($"latent channels: {Show(Config(folder.Transformer))} has in_channels = {transformer.InChannels}, but a pixel-space model (no vae/) needs 3 (RGB)");
        if (transformer is not null && vae is not null)
        {
            if (transformer.InChannels != vae.EmbedDim)
                problems.Add($"latent channels: {Show(Config(folder.Transformer))} has in_channels = {transformer.InChannels}, " +
                             $"but the VAE decodes embed_dim = {vae.EmbedDim} ({Show(Config(folder.Vae!))})");
            else matched.Add($"latent channels: in_channels {transformer.InChannels} = the VAE's embed_dim");
        }
        return new ModelCheckResult(matched, notes, problems);
    }

    static string RequireFile(string path) => File.Exists(path) ? path : throw new FileNotFoundException($"{path} does not exist", path);

    /// <summary>Tensors the engine cannot use as weights (integers, bytes) are problems.</summary>
    static void Floats(string file, IReadOnlyList<TensorInfo> tensors, List<string> problems, Func<string, string> show)
    {
        var bad = tensors.Where(t => t.DType is not (DType.F32 or DType.F16 or DType.BF16)).ToList();
        if (bad.Count > 0)
            problems.Add($"{show(file)}: {bad.Count} tensors are not floating point (f32, f16, bf16): " +
                         CheckpointKeys.List(bad.Select(t => $"{t.Name} is {t.DType.ToString().ToLowerInvariant()}").ToList(), 5));
    }

    /// <summary>"1416 tensors: 1416 bf16 (2.11 GiB)".</summary>
    static string Summary(IReadOnlyList<TensorInfo> tensors) =>
        $"{tensors.Count} tensors: " + string.Join(", ", tensors.GroupBy(t => t.DType).Select(g =>
            $"{g.Count()} {g.Key.ToString().ToLowerInvariant()} ({GenerationPlan.FormatBytes(g.Sum(t => t.Elements * t.DType.Size()))})"));

    /// <summary>Paths in a message as a user knows them: relative to the model folder, and for a symbolic link the file it
    /// points to as well ("transformer/model.pt → /downloads/qihoo.pt").</summary>
    static string Names(string root, string text)
    {
        if (!Directory.Exists(root)) return text;
        var links = Directory.EnumerateDirectories(root).Prepend(root).SelectMany(Directory.EnumerateFiles)
            .Select(f => (path: f, target: new FileInfo(f).LinkTarget))
            .OrderByDescending(f => f.path.Length);
        foreach (var (path, target) in links)
        {
            string rel = Path.GetRelativePath(root, path);
            text = text.Replace(path, target is null ? rel : $"{rel} → {target}");
        }
        return text.Replace(root + Path.DirectorySeparatorChar, "");
    }
}
