using T2X.Vulkan;
using T2X.Vulkan.Weights;

namespace T2X.Host.Commands;

/// <summary>Named tensors read from an input file (safetensors or torch zip), with shape checks that name the tensor.</summary>
public sealed class TensorFile : IDisposable
{
    readonly ITensorSource _source;
    readonly string _path;

    public TensorFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"inputs file '{path}' does not exist", path);
        _path = path;
        _source = Checkpoint.Open(path);
    }

    public bool Has(string name) => _source.Tensors.Any(t => t.Name == name);

    /// <summary>Reads a tensor as f32 and checks its rank and that every value is finite; -1 in <paramref name="rank"/> accepts any.</summary>
    public (float[] values, long[] shape) Read(string name, int rank, string expected)
    {
        var info = _source.Tensors.FirstOrDefault(t => t.Name == name)
            ?? throw new InvalidDataException($"{_path}: no tensor '{name}' (expected {expected}); it has: {string.Join(", ", _source.Tensors.Select(t => t.Name))}");
        if (rank >= 0 && info.Shape.Length != rank)
            throw new InvalidDataException($"{_path}: '{name}' has shape [{string.Join(", ", info.Shape)}], expected {expected}");
        var values = _source.Read(name).ToFloat32();
        Finite.Require(values, $"{_path}: '{name}'");
        return (values, info.Shape);
    }

    public static void Expect(string name, long[] shape, long[] want, string expected)
    {
        if (!shape.SequenceEqual(want))
            throw new InvalidDataException($"'{name}' has shape [{string.Join(", ", shape)}], expected {expected} = [{string.Join(", ", want)}]");
    }

    public void Dispose() => _source.Dispose();
}
