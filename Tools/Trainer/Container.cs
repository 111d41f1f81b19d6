using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>A module that only names its children, so state_dict keys come out in the official nesting
/// (e.g. "adaln_single.emb.timestep_embedder.linear_1.weight").</summary>
public sealed class Container : nn.Module
{
    public Container(params (string Name, nn.Module Module)[] children) : base("Container")
    {
        foreach (var (name, module) in children) register_module(name, module);
    }
}
