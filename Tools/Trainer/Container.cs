using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>
/// Base of the trainer's modules: only what a module registers explicitly (register_module/register_parameter
/// with the official names) is part of its state_dict. TorchSharp would otherwise also register every field
/// under its C# name, duplicating each weight under a second key.
/// </summary>
public abstract class NamedModule(string name) : nn.Module(name)
{
    protected override void RegisterComponents() { }
}

/// <summary>A module that only names its children, so state_dict keys come out in the official nesting
/// (e.g. "adaln_single.emb.timestep_embedder.linear_1.weight").</summary>
public sealed class Container : NamedModule
{
    public Container(params (string Name, nn.Module Module)[] children) : base("Container")
    {
        foreach (var (name, module) in children) register_module(name, module);
    }
}
