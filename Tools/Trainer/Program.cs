using System.Globalization;
using System.Text.Json;
using T2X.Trainer;
using TorchSharp;

// t2x-train: trains the built-in model and exports it. See Tools/Trainer/README.md.
//   train  [--run DIR] [--steps N] [--batch N] [--lr X] [--seed N] [--threads N] [--layers N] [--heads N] ...
//   sample --run DIR --prompt TEXT[|TEXT...] [--out FILE] [--steps N] [--cfg X] [--seed N] [--weights ema|model]
//   evaluate --run DIR [--prompts 100] [--steps N[,N...]] [--cfg X[,X...]] [--timestep-transform true --transform-scale X]
//   import --run DIR --from DIR   (weights trained by gpu/train.py)
//   export --run DIR [--out Host/BuiltinModel] [--check Tests/Models/Data/builtin-check.safetensors] [--steps N] [--cfg X]
//          [--timestep-transform true --transform-scale X --sample-method M]  (as the run was trained)
var options = ParseOptions(args.Skip(1).ToArray());
string Get(string name, string fallback) => options.TryGetValue(name, out var v) ? v : fallback;
int GetInt(string name, int fallback) => int.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
double GetDouble(string name, double fallback) => double.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

torch.set_num_threads(GetInt("threads", Environment.ProcessorCount));
string run = Get("run", "Tools/Trainer/run");
switch (args.FirstOrDefault())
{
    case "train":
    {
        string saved = Path.Combine(run, "checkpoint", "config.json");
        var defaults = new ModelConfig();
        var config = File.Exists(saved) ? JsonSerializer.Deserialize<ModelConfig>(File.ReadAllText(saved))! : new ModelConfig
        {
            NumLayers = GetInt("layers", defaults.NumLayers),
            NumHeads = GetInt("heads", defaults.NumHeads),
            HeadDim = GetInt("head-dim", defaults.HeadDim),
            PatchSize = GetInt("patch", defaults.PatchSize),
            Window = GetInt("window", defaults.Window),
            TextWidth = GetInt("text-width", defaults.TextWidth),
            TextLayers = GetInt("text-layers", defaults.TextLayers),
            TextHeads = GetInt("text-heads", defaults.TextHeads),
            TextFeedForward = GetInt("text-ff", defaults.TextFeedForward),
        };
        var train = new TrainOptions
        {
            RunDir = run,
            Steps = GetInt("steps", 3000),
            Batch = GetInt("batch", 16),
            LearningRate = GetDouble("lr", 8e-4),
            Seed = GetInt("seed", 1),
            CheckpointEvery = GetInt("checkpoint-every", 50),
            EvalEvery = GetInt("eval-every", 200),
            EvalPrompts = GetInt("eval-prompts", 8),
            SampleMethod = Get("sample-method", "logit-normal"),
            HighNoiseShare = GetDouble("high-noise-share", 0.0),
            HighNoiseFrom = GetDouble("high-noise-from", 0.97),
            BandShare = GetDouble("band-share", 0.0),
            BandFrom = GetDouble("band-from", 0.15),
            BandTo = GetDouble("band-to", 0.75),
            SingleObjectSteps = GetInt("single-object-steps", 0),
            TimestepTransform = Get("timestep-transform", "false") == "true",
            TransformScale = GetDouble("transform-scale", 1.0),
        };
        new Training(config, train).Run();
        return 0;
    }
    case "sample":
    {
        var model = LoadCheckpoint(Get("weights", "ema"));
        var config = model.Config;
        var prompts = Get("prompt", "a red circle in the center on a blue background").Split('|');
        var images = model.Generate(prompts, GetInt("steps", 20), GetDouble("cfg", 4.0), GetInt("seed", 0), Get("timestep-transform", "false") == "true", GetDouble("transform-scale", 1.0));
        Images.SaveGrid(Get("out", Path.Combine(run, "sample.png")), images, config.ImageSize, columns: Math.Min(8, prompts.Length), zoom: 4);
        return 0;
    }
    case "export":
    {
        var model = LoadCheckpoint("ema");
        var config = model.Config;
        string folder = Get("out", "Host/BuiltinModel");
        Export.Write(model, folder, GetInt("steps", 20), GetDouble("cfg", 4.0), Get("timestep-transform", "false") == "true", GetDouble("transform-scale", 1.0),
            Get("sample-method", "logit-normal"));
        string check = Get("check", "Tests/Models/Data/builtin-check.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(check))!);
        Export.WriteCheck(model, check);
        Console.WriteLine($"exported {run}/checkpoint (averaged weights) to {folder}, check case to {check}");
        return 0;
    }
    case "import":
    {
        // Weights trained on a GPU by gpu/train.py become this run's checkpoint.
        string from = options.TryGetValue("from", out var f) ? f : throw new ArgumentException("import needs --from DIR (gpu/train.py's --out)");
        Import.Run(from, run);
        Console.WriteLine($"imported {from} into {run}/checkpoint");
        return 0;
    }
    case "evaluate":
    {
        // The adherence measure on the engine test's prompts, for choosing the exported sampler settings.
        var model = LoadCheckpoint(Get("weights", "ema"));
        var config = model.Config;
        var prompts = Enumerable.Range(0, GetInt("prompts", 100))
            .Select(i => (T2X.DataGen.Scene.ForIndex(2027, i) with { BackgroundNamed = true }).Caption).ToArray();
        foreach (var steps in Get("steps", "20").Split(',').Select(int.Parse))
            foreach (var cfg in Get("cfg", "4").Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)))
            {
                var images = model.Generate(prompts, steps, cfg, GetInt("seed", 0), Get("timestep-transform", "false") == "true", GetDouble("transform-scale", 1.0));
                var (colors, shapes) = TextToImage.Adherence(prompts, images, config.ImageSize);
                double backgrounds = prompts.Select((p, i) => T2X.DataGen.AdherenceChecker.Check(images[i], config.ImageSize, T2X.DataGen.CaptionParser.Parse(p)).BackgroundRight ? 1 : 0).Average();
                Console.WriteLine($"steps {steps} cfg {cfg}: colors {colors:P0}, shapes {shapes:P0}, named background {backgrounds:P0} on {prompts.Length} prompts");
            }
        return 0;
    }
    case "probe":
    {
        // How much the caption helps: the loss at one time with the right captions, captions of other images, and "".
        var model = LoadCheckpoint(Get("weights", "model"));
        var config = model.Config;
        using var noGrad = torch.no_grad();
        int n = 32, size = config.ImageSize;
        bool oneObject = Get("objects", "any") == "1"; // --objects 1: only each scene's first object
        var scenes = Enumerable.Range(0, n).Select(i => T2X.DataGen.Scene.ForIndex(99, i) with { BackgroundNamed = true })
            .Select(s => oneObject ? s with { Objects = [s.Objects[0]] } : s).ToArray();
        var x0 = torch.tensor(scenes.SelectMany(s => Images.ToPlanar(T2X.DataGen.SceneRenderer.Render(s, size), size)).ToArray()).view(n, 3, size, size);
        var captions = scenes.Select(s => s.Caption).ToArray();
        {
            var (ids, mask) = model.Tokenize(captions);
            var text = model.TextEncoder.Forward(ids, mask);
            Console.WriteLine($"T5 states: rms {text.pow(2).mean().sqrt().item<float>():F4}, rms of the differences between captions {(text - text.mean([0], keepdim: true)).pow(2).mean().sqrt().item<float>():F4}");
        }
        foreach (double time in new[] { 990.0, 900.0, 700.0, 500.0 })
        {
            var noise = torch.randn(x0.shape, generator: new torch.Generator(3));
            var xt = (1 - time / 1000) * x0 + time / 1000 * noise;
            double Loss(string[] prompts)
            {
                var (ids, mask) = model.Tokenize(prompts);
                var v = model.Predict(xt, torch.full(n, (float)time), ids, mask).narrow(1, 0, 3);
                return (v - (x0 - noise)).pow(2).mean().item<float>();
            }
            Console.WriteLine($"t={time}: right captions {Loss(captions):F4}, other captions {Loss(captions.Skip(1).Append(captions[0]).ToArray()):F4}, empty {Loss(Enumerable.Repeat("", n).ToArray()):F4}");
            var (strength, colorRight) = ObjectStrength(xt, time);
            Console.WriteLine($"        predicted image: object strength {strength:F3}, object color nearest among non-background colors {colorRight:P0}");
        }
        // How far the predicted clean image x0 = x_t + (t/T)·v has moved each object's pixels from the background color
        // towards the object's color (0: not drawn, 1: fully drawn), averaged over all objects; and how often the mean
        // predicted color over the object's pixels is nearer the object's color than any other non-background color.
        (double Strength, double ColorRight) ObjectStrength(torch.Tensor xt, double time)
        {
            var (ids, mask) = model.Tokenize(captions);
            var v = model.Predict(xt, torch.full(n, (float)time), ids, mask).narrow(1, 0, 3);
            var x0Hat = (xt + time / 1000 * v).data<float>().ToArray();
            double sum = 0; int count = 0, right = 0, plane = size * size;
            for (int i = 0; i < n; i++)
            {
                var bg = Images.ToPlanar(T2X.DataGen.SceneRenderer.Render(scenes[i] with { Objects = [] }, size), size);
                foreach (var o in scenes[i].Objects)
                {
                    var alone = Images.ToPlanar(T2X.DataGen.SceneRenderer.Render(scenes[i] with { Objects = [o] }, size), size);
                    double dot = 0, norm = 0, pixels = 0;
                    var mean = new double[3];
                    for (int p = 0; p < plane; p++)
                    {
                        if (alone[p] == bg[p] && alone[plane + p] == bg[plane + p] && alone[2 * plane + p] == bg[2 * plane + p]) continue;
                        pixels++;
                        for (int ch = 0; ch < 3; ch++)
                        {
                            int k = ch * plane + p;
                            mean[ch] += x0Hat[i * 3 * plane + k];
                            dot += (x0Hat[i * 3 * plane + k] - bg[k]) * (alone[k] - bg[k]);
                            norm += (alone[k] - bg[k]) * (alone[k] - bg[k]);
                        }
                    }
                    if (norm == 0) continue;
                    sum += dot / norm;
                    count++;
                    var rgb = T2X.DataGen.Grammar.Rgb;
                    double Distance(int c) => Enumerable.Range(0, 3).Sum(ch => Math.Pow(mean[ch] / pixels - (new[] { rgb[c].R, rgb[c].G, rgb[c].B }[ch] / 127.5 - 1), 2));
                    int nearest = Enumerable.Range(0, rgb.Length).Where(c => c != scenes[i].Background).MinBy(Distance);
                    if (nearest == o.Color) right++;
                }
            }
            return (sum / Math.Max(1, count), right / (double)Math.Max(1, count));
        }
        return 0;
    }
    default:
        Console.Error.WriteLine("usage: t2x-train train [options] | sample --prompt TEXT [options]   (see Tools/Trainer/README.md)");
        return 2;
}

// The run's checkpoint: its sizes and one set of its weights ("ema", the exported average, or "model").
TextToImage LoadCheckpoint(string weights)
{
    var model = new TextToImage(JsonSerializer.Deserialize<ModelConfig>(File.ReadAllText(Path.Combine(run, "checkpoint", "config.json")))!);
    model.load(Path.Combine(run, "checkpoint", weights + ".dat"));
    return model;
}

static Dictionary<string, string> ParseOptions(string[] args)
{
    var options = new Dictionary<string, string>();
    for (int i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--") || i + 1 >= args.Length) throw new ArgumentException($"expected --name value, got '{args[i]}'");
        options[args[i][2..]] = args[++i];
    }
    return options;
}
