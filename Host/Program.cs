using T2X.Host;
using T2X.Host.Commands;

// Each command is one class in Host/Commands with a Run(Args) method; this table is the whole CLI.
var commands = new (string name, string summary, Func<Args, int> run)[]
{
    ("generate", "text to PNG: t2x generate \"a red circle in the center\" [-o OUT] [--seed N] [--model DIR] (--help for all options)", GenerateCommand.Run),
    ("import", "a model folder from the released downloads: --transformer FILE|DIR --text-encoder DIR --tokenizer DIR --vae DIR [--config JSON] --output DIR; --check DIR", ImportCommand.Run),
    ("serve", "the engine over HTTP: job API with live progress and previews, OpenAI/A1111-compatible endpoints, a web page (--help)", ServeCommand.Run),
    ("batch", "a prompt list (.txt/.jsonl) into a folder of PNGs with a manifest: resumable, batched, every device, cluster shards (--help)", BatchCommand.Run),
    ("devices", "list the Vulkan devices and their limits (--devices LIST: which ones t2x batch would use)", DevicesCommand.Run),
    ("view", "a window that shows the image forming step by step (keys: Tab prompt, Enter, R seed, S save, Q quit)", ViewCommand.Run),
    ("bench", "kernel benchmarks next to a CPU baseline (--json for one JSON object per line)", BenchCommand.Run),
    ("tokenize", "T5 token ids and attention mask of a JSON array of prompts (--tokenizer DIR --prompts P.json --max-length N [--clean] --output OUT)", TokenizeCommand.Run),
    ("encode", "T5 encoder: token ids to last_hidden_state (--text-encoder DIR --inputs IN --output OUT), or a prompt (--tokenizer DIR --prompt TEXT)", EncodeCommand.Run),
    ("inspect", "list the tensors of a checkpoint (safetensors, torch .pt/.ckpt/.bin, index json, folder)", InspectCommand.Run),
    ("forward", "one PT-DiT forward pass on tensors: --transformer DIR --inputs IN --output OUT [--attention proxy|global]", ForwardCommand.Run),
    ("decode", "VAE decoder on tensors: --vae DIR --inputs IN (latents [B,4,T,h,w]) --output OUT (sample, pixels) [--tiling auto|on|off] [--memory-budget GIB]", DecodeCommand.Run),
    ("fit-preview", "fit a VAE's latent-to-RGB preview projection (--vae DIR [--seed N] [--write]): least squares of decoded pixels on latents", FitPreviewCommand.Run),
    ("sample", "the rectified-flow sampler on tensors: --transformer DIR --inputs IN --output OUT --steps N --cfg S --height PX --width PX", SampleCommand.Run),
};

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine("t2x: Qihoo-T2X (PT-DiT) text-to-image on any Vulkan device\n\nusage: t2x <command> [options]\n");
    foreach (var c in commands) Console.WriteLine($"  {c.name,-10} {c.summary}");
    Console.WriteLine("\nglobal options: --device N|name (or T2X_DEVICE), T2X_VALIDATION=1 turns on the validation layer");
    return args.Length == 0 ? 2 : 0;
}

var command = commands.FirstOrDefault(c => c.name == args[0]);
if (command.run is null)
{
    Console.Error.WriteLine($"t2x: unknown command '{args[0]}' (try t2x --help)");
    return 2;
}
try
{
    return command.run(new Args(args.Skip(1)));
}
catch (Exception e)
{
    return Errors.Report(command.name, e);
}
