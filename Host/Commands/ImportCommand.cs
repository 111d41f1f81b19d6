using T2X.Vulkan.Pipelines;

namespace T2X.Host.Commands;

/// <summary>t2x import: a model folder from the parts of a release as they are downloaded (links by default), checked from
/// the checkpoint headers; t2x import --check DIR checks an existing folder the same way.</summary>
public static class ImportCommand
{
    public const string Usage =
        "t2x import --transformer FILE|DIR --text-encoder DIR --tokenizer DIR --vae DIR [--config inference_model_image.json]\n" +
        "           --output MODEL_DIR [--copy|--link] [--force] [--name NAME]\n" +
        "t2x import --check MODEL_DIR\n" +
        "  --transformer   the PT-DiT checkpoint (the released .pt) or a folder holding one weights file\n" +
        "  --text-encoder  a Hugging Face T5 encoder folder (config.json + sharded safetensors and their index, or one file)\n" +
        "  --tokenizer     a Hugging Face T5 tokenizer folder (spiece.model)\n" +
        "  --vae           the Open-Sora-Plan 1.2 VAE folder (config.json + checkpoint.ckpt)\n" +
        "  --config        the official inference config: transformer/config.json, model_index.json and the VAE's decoder\n" +
        "                  settings come from its predictor, diffusion, pipeline_config and ae sections (default: the released values)\n" +
        "  --copy          copy the weights (default --link: symbolic links to the downloaded files)\n" +
        "  --force         replace an existing non-empty MODEL_DIR\n" +
        "  --check DIR     check an existing model folder (keys, shapes, dtypes, how the parts meet) and change nothing";

    public static int Run(Args a)
    {
        if (a.Flag("help"))
        {
            Console.WriteLine(Usage);
            return 0;
        }
        string? check = a.Option("check");
        if (check is not null)
        {
            a.Done();
            return Report(ModelCheck.Run(check), check);
        }
        string Need(string option) => a.Option(option) ?? throw new UsageException($"--{option} is required\n" + Usage);
        var request = new ImportRequest
        {
            Transformer = Need("transformer"), TextEncoder = Need("text-encoder"), Tokenizer = Need("tokenizer"), Vae = Need("vae"),
            Config = a.Option("config"), Output = Need("output"), Force = a.Flag("force"), Name = a.Option("name"),
            Copy = a.Flag("copy"),
        };
        if (a.Flag("link") && request.Copy) throw new UsageException("give --copy or --link, not both");
        a.Done();
        ImportResult result;
        try { result = ModelImport.Run(request); }
        catch (ModelCheckException e)
        {
            foreach (var p in e.Problems) Console.Error.WriteLine($"t2x import: {Terminal.Safe(p)}");
            Console.Error.WriteLine($"t2x import: {request.Output} was not written ({e.Problems.Count} problem{(e.Problems.Count == 1 ? "" : "s")})");
            return Errors.BadInput;
        }
        foreach (var p in result.Placed) Console.WriteLine(Terminal.Safe(p));
        Report(result.Check, result.Output);
        Console.WriteLine($"model folder {Terminal.Safe(result.Output)} is ready: t2x generate --model {Terminal.Safe(result.Output)} --dry-run shows its plan");
        return 0;
    }

    /// <summary>Prints what matched and the notes on standard output and every problem on standard error.</summary>
    static int Report(ModelCheckResult check, string dir)
    {
        foreach (var m in check.Matched) Console.WriteLine($"ok: {Terminal.Safe(m)}");
        foreach (var n in check.Notes) Console.WriteLine($"note: {Terminal.Safe(n)}");
        foreach (var p in check.Problems) Console.Error.WriteLine($"t2x import: {Terminal.Safe(p)}");
        if (!check.Ok) Console.Error.WriteLine($"t2x import: {Terminal.Safe(dir)}: {check.Problems.Count} problem{(check.Problems.Count == 1 ? "" : "s")}");
        return check.Ok ? 0 : Errors.BadInput;
    }
}
