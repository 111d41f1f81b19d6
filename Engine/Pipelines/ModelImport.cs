using System.Text.Json;
using System.Text.Json.Nodes;
using T2X.Vulkan.Files;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Pipelines;

/// <summary>What `t2x import` builds a model folder from: the parts as they are downloaded (ModelFolder.md, "Importing").</summary>
public sealed record ImportRequest
{
    /// <summary>The PT-DiT checkpoint: a file (the released .pt) or a folder holding one weights file (or an index and its shards).</summary>
    public required string Transformer { get; init; }
    /// <summary>A Hugging Face T5 encoder folder: config.json and the weights (sharded safetensors with their index, or one file).</summary>
    public required string TextEncoder { get; init; }
    /// <summary>A Hugging Face T5 tokenizer folder (spiece.model).</summary>
    public required string Tokenizer { get; init; }
    /// <summary>The Open-Sora-Plan VAE folder: config.json and checkpoint.ckpt (weights under "state_dict").</summary>
    public required string Vae { get; init; }
    /// <summary>The official inference config (inference_model_image.json); null: the released values.</summary>
    public string? Config { get; init; }
    public required string Output { get; init; }
    /// <summary>Copy the weights instead of linking them.</summary>
    public bool Copy { get; init; }
    /// <summary>Replace an existing non-empty output folder.</summary>
    public bool Force { get; init; }
    /// <summary>model_index.json's name (recorded in PNGs); null: the output folder's name.</summary>
    public string? Name { get; init; }
}

/// <summary>What an import did: each file placed (linked, copied or written) and the check of the finished folder.</summary>
public sealed record ImportResult(string Output, IReadOnlyList<string> Placed, ModelCheckResult Check);

/// <summary>
/// Builds a model folder (ModelFolder.md) from the parts of a release as they are downloaded, without writing a file by
/// hand: links (or copies) the weights into transformer/, text_encoder/, tokenizer/ and vae/, writes model_index.json,
/// transformer/config.json and vae/config.json from the official inference config's sections (or the released values),
/// and checks the result with <see cref="ModelCheck"/> before it is published. The folder is assembled under a
/// temporary name beside the output and renamed when complete, so a failed import leaves nothing behind.
/// </summary>
public static class ModelImport
{
    /// <summary>Keys of the inference config's "ae" section that describe where and how the official run loads the VAE,
    /// not the decoder: not copied into vae/config.json.</summary>
    static readonly string[] AeRunKeys = ["model_id", "from_pretrained", "dtype", "output_dtype"];

    /// <summary>The sections of the released inference config the import reads, with the released values (what an
    /// import without --config uses; Engine/Pipelines/ModelFolder.md lists them).</summary>
    public static JsonObject ReleasedConfig()
    {
        var vae = VaeConfig.Released;
        static JsonArray Strings(IEnumerable<string> s) => new(s.Select(x => (JsonNode)x).ToArray());
        return new JsonObject
        {
            ["pipeline_class"] = "QihooPipeline",
            ["model_max_length"] = 200,
            ["pipeline_config"] = new JsonObject { ["input_size"] = new JsonArray(1, 1024, 1024) },
            ["predictor"] = JsonNode.Parse(PtDitConfig.Released.ToJson()),
            ["diffusion"] = new JsonObject { ["model_id"] = "rflow", ["use_timestep_transform"] = true, ["num_inference_steps"] = 30, ["cfg_scale"] = 4.0 },
            ["ae"] = new JsonObject
            {
                ["decoder_spatial_upsample"] = Strings(vae.DecoderSpatialUpsample), ["decoder_temporal_upsample"] = Strings(vae.DecoderTemporalUpsample),
                ["use_tiling"] = vae.UseTiling, ["tile_overlap_factor"] = vae.TileOverlapFactor, ["tile_sample_min_size"] = vae.TileSampleMinSize,
                ["tile_latent_min_size"] = vae.TileLatentMinSize, ["tile_latent_min_size_t"] = vae.TileLatentMinSizeT,
            },
        };
    }

    public static ImportResult Run(ImportRequest r)
    {
        string output = Path.GetFullPath(r.Output.TrimEnd(Path.DirectorySeparatorChar) is { Length: > 0 } o ? o : r.Output);
        string parent = Path.GetDirectoryName(output) ?? throw new IOException($"--output {r.Output}: cannot make a model folder at the file system's root");
        if (!Directory.Exists(parent)) throw new DirectoryNotFoundException($"folder {parent} does not exist (it would hold --output {r.Output})");
        if (File.Exists(output)) throw new IOException($"--output {r.Output} is a file, not a folder");
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any() && !r.Force) throw new OutputExistsException(r.Output);

        // The inputs, checked before anything is written.
        string transformerWeights = Directory.Exists(r.Transformer) ? Checkpoint.FindWeights(r.Transformer)
            : File.Exists(r.Transformer) ? r.Transformer : throw new FileNotFoundException($"--transformer {r.Transformer} does not exist", r.Transformer);
        string textEncoderWeights = Checkpoint.FindWeights(RequireFolder(r.TextEncoder, "--text-encoder"));
        RequireFolder(r.Tokenizer, "--tokenizer");
        string vaeWeights = Checkpoint.FindWeights(RequireFolder(r.Vae, "--vae"));
        string vaeConfigPath = Path.Combine(r.Vae, "config.json");
        var vaeConfig = ReadObject(vaeConfigPath, "the VAE's config");
        var config = r.Config is null ? ReleasedConfig() : ReadObject(r.Config, "the inference config");
        string configName = r.Config is null ? "the released values" : Path.GetFileName(r.Config);
        JsonObject Section(string key) => config[key] as JsonObject
            ?? throw new InvalidDataException($"{r.Config}: has no \"{key}\" object (expected the official inference config, e.g. inference_model_image.json)");
        var predictor = Section("predictor");
        var diffusion = Section("diffusion");
        var ae = config["ae"] as JsonObject ?? ReleasedConfig()["ae"]!.AsObject();

        var sources = new[] { transformerWeights, r.TextEncoder, r.Tokenizer, r.Vae }.Concat(r.Config is null ? [] : [r.Config]);
        foreach (var s in sources)
        {
            string full = Path.GetFullPath(s);
            if (full == output || full.StartsWith(output + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new IOException($"--output {r.Output} holds an input ({s}); import into another folder");
        }

        string temp = Path.Combine(parent, $".{Path.GetFileName(output)}.{Guid.NewGuid():N}{AtomicFile.TempSuffix}");
        var placed = new List<string>();
        try
        {
            Directory.CreateDirectory(temp);
            string Part(string name) => Directory.CreateDirectory(Path.Combine(temp, name)).FullName;
            void Place(string part, string source)
            {
                string name = Path.GetFileName(source), destination = Path.Combine(Part(part), name);
                if (!File.Exists(source)) return;   // a shard the index names but the folder lacks: the check names it
                if (r.Copy) File.Copy(source, destination);
                else File.CreateSymbolicLink(destination, Path.GetFullPath(source));
                placed.Add($"{part}/{name} {(r.Copy ? "copied from" : "→")} {Path.GetFullPath(source)}");
            }
            void Write(string part, string name, JsonNode json, string from)
            {
                File.WriteAllText(Path.Combine(part.Length == 0 ? temp : Part(part), name), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
                placed.Add($"{(part.Length == 0 ? "" : part + "/")}{name} written from {from}");
            }

            foreach (var f in Checkpoint.FilesOf(transformerWeights)) Place("transformer", f);
            var transformerConfig = predictor.DeepClone().AsObject();
            transformerConfig.Remove("from_pretrained");
            Write("transformer", "config.json", transformerConfig, $"{configName} (\"predictor\")");

            Place("text_encoder", Path.Combine(r.TextEncoder, "config.json"));
            foreach (var f in Checkpoint.FilesOf(textEncoderWeights)) Place("text_encoder", f);

            Part("tokenizer");
            foreach (var f in Directory.EnumerateFiles(r.Tokenizer).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal))
                Place("tokenizer", f);

            foreach (var f in Checkpoint.FilesOf(vaeWeights)) Place("vae", f);
            foreach (var (key, value) in ae)
                if (!AeRunKeys.Contains(key)) vaeConfig[key] = value?.DeepClone();
            Write("vae", "config.json", vaeConfig, $"{Path.GetFullPath(vaeConfigPath)} with the decoder settings of {configName} (\"ae\")");

            var inputSize = (config["pipeline_config"] as JsonObject)?["input_size"]?.DeepClone() ?? new JsonArray(1, 1024, 1024);
            Write("", "model_index.json", new JsonObject
            {
                ["pipeline_class"] = config["pipeline_class"]?.DeepClone() ?? "QihooPipeline",
                ["name"] = r.Name ?? Path.GetFileName(output),
                ["space"] = "latent",
                ["input_size"] = inputSize,
                ["model_max_length"] = config["model_max_length"]?.DeepClone() ?? 200,
                ["clean_caption"] = true,
                ["negative_prompt"] = "",
                ["transformer"] = "transformer", ["text_encoder"] = "text_encoder", ["tokenizer"] = "tokenizer", ["vae"] = "vae",
                ["diffusion"] = diffusion.DeepClone(),
            }, configName);

            var check = ModelCheck.Run(temp);
            if (!check.Ok) throw new ModelCheckException(r.Output, check.Problems);
            Publish(temp, output, r.Force);
            return new ImportResult(output, placed, check);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>Renames the finished folder to its name; an existing folder there (empty, or any with
    /// <paramref name="force"/>) is set aside first and removed after.</summary>
    static void Publish(string temp, string output, bool force)
    {
        if (!Directory.Exists(output))
        {
            Directory.Move(temp, output);
            return;
        }
        if (!force && Directory.EnumerateFileSystemEntries(output).Any()) throw new OutputExistsException(output);
        string old = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.{Guid.NewGuid():N}{AtomicFile.TempSuffix}");
        Directory.Move(output, old);
        try { Directory.Move(temp, output); }
        catch
        {
            Directory.Move(old, output);
            throw;
        }
        Directory.Delete(old, recursive: true);   // links inside are removed, never what they point to
    }

    static string RequireFolder(string path, string option) =>
        Directory.Exists(path) ? path : throw new DirectoryNotFoundException($"{option} {path} is not a folder");

    static JsonObject ReadObject(string path, string what)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(InputFile.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        return node as JsonObject ?? throw new InvalidDataException($"{path}: {what} must be a JSON object");
    }
}
