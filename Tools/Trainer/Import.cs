using System.Text.Json;
using T2X.Vulkan.Weights;
using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>
/// Turns what gpu/train.py wrote (config.json, transformer.safetensors, text_encoder.safetensors: the averaged weights
/// under this trainer's state_dict names) into a run folder, so that sample, probe, evaluate and export work on it and
/// `train` can go on from it (at step 0 of a new schedule, with a fresh optimizer).
/// </summary>
public static class Import
{
    public static void Run(string from, string runDir)
    {
        var config = JsonSerializer.Deserialize<ModelConfig>(File.ReadAllText(Path.Combine(from, "config.json")))
                     ?? throw new InvalidDataException($"{from}/config.json is empty");
        var model = new TextToImage(config);
        var tensors = new Dictionary<string, HostTensor>();
        foreach (var file in new[] { "transformer.safetensors", "text_encoder.safetensors" })
        {
            using var source = SafeTensors.Open(Path.Combine(from, file));
            foreach (var info in source.Tensors) tensors.Add(info.Name, source.Read(info.Name));
        }
        var state = model.state_dict();
        var missing = state.Keys.Except(tensors.Keys).ToList();
        var unexpected = tensors.Keys.Except(state.Keys).ToList();
        if (missing.Count + unexpected.Count > 0)
            throw new InvalidDataException($"{from}: missing {string.Join(", ", missing)}; unexpected {string.Join(", ", unexpected)}");
        using (no_grad())
            foreach (var (name, target) in state)
            {
                var host = tensors[name];
                if (!host.Shape.SequenceEqual(target.shape))
                    throw new InvalidDataException($"{from}: {name} has shape [{string.Join(", ", host.Shape)}]; the model has [{string.Join(", ", target.shape)}]");
                target.copy_(tensor(host.ToFloat32()).view(target.shape));
            }
        var optimizer = optim.AdamW(model.parameters(), 1e-3, weight_decay: 0.0);
        Training.SaveCheckpoint(runDir, config, model, model, optimizer, step: 0);
    }
}
