using T2X.Vulkan;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Weights;

namespace T2X.Host.Commands;

/// <summary>t2x inspect FILE|DIR: the tensors of a checkpoint (name, dtype, shape) and the parameter count; for a model
/// folder (one with model_index.json), those of each part.</summary>
public static class InspectCommand
{
    public static int Run(Args a)
    {
        a.Done(maxPositional: 1);
        if (a.Positional.Count == 0) throw new UsageException("usage: t2x inspect FILE|DIR (a .safetensors, .pt/.pth/.ckpt/.bin, index json, or model folder)");
        string path = a.Positional[0];
        if (!File.Exists(Path.Combine(path, "model_index.json")))
        {
            List(path);
            return 0;
        }
        var folder = ModelFolder.Open(path);
        foreach (var (part, dir) in new[] { ("transformer", folder.Transformer), ("text_encoder", folder.TextEncoder), ("vae", folder.Vae) })
        {
            if (dir is null) continue;
            Console.WriteLine($"## {part}: {dir}");
            List(dir);
        }
        return 0;
    }

    static void List(string path)
    {
        using var source = Checkpoint.Open(path);
        if (source is SafeTensors { Metadata.Count: > 0 } st)
            foreach (var (k, v) in st.Metadata) Console.WriteLine($"# metadata {Terminal.Safe(k)} = {Terminal.Safe(v)}");
        if (source is TorchCheckpoint { Wrapper: { } wrapper })
            Console.WriteLine($"# weights under the top-level \"{Terminal.Safe(wrapper)}\" entry");
        long parameters = 0, bytes = 0;
        foreach (var t in source.Tensors)
        {
            Console.WriteLine($"{Terminal.Safe(t.Name)}\t{t.DType}\t[{string.Join(", ", t.Shape)}]");
            parameters += t.Elements;
            bytes += t.Elements * t.DType.Size();
        }
        Console.WriteLine($"{source.Tensors.Count} tensors, {parameters:N0} parameters, {bytes:N0} bytes");
    }
}
