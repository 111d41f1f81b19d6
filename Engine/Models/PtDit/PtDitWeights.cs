using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Models.PtDit;

/// <summary>
/// A PT-DiT checkpoint on the device, in its stored dtype (f32, f16 or bf16; shaders convert on load). The projections
/// that read the same input are concatenated at upload so one GEMM computes them: q|k|v of the self-attentions
/// (<c>{attn}.to_qkv</c>, [3D, D]) and k|v of the cross-attentions (<c>{attn}.to_kv</c>, [2D, D]). Every other tensor
/// keeps its checkpoint name. On CPU devices the Linear weights are stored in <see cref="Kernels.GemmPanels"/>.
/// </summary>
public sealed class PtDitWeights : IDisposable
{
    public PtDitConfig Config { get; }
    public DeviceWeights Device { get; }
    /// <summary>Checkpoint keys the model does not use (the official loader's strict=False ignores them too).</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Self-attentions (one input for q, k and v) and cross-attentions (k and v from another input).</summary>
    public static readonly string[] SelfAttentions = ["proxy_attn1", "attn1", "attn3"], CrossAttentions = ["pvisual_attn2", "attn2"];

    /// <summary>The stored position table pos_embed.pos_embed as f32 [F·h·w·D] if the checkpoint has it (used only at
    /// the grid it was built for, as the official code does).</summary>
    public float[]? PositionBuffer { get; }

    PtDitWeights(PtDitConfig config, DeviceWeights device, IReadOnlyList<string> unexpected, float[]? positionBuffer)
    {
        Config = config;
        Device = device;
        UnexpectedKeys = unexpected;
        PositionBuffer = positionBuffer;
    }

    public Tensor this[string name] => Device[name];
    public Tensor? Optional(string name) => Device.Contains(name) ? Device[name] : null;

    /// <summary>Checks every key and shape against the config (all problems named at once), then uploads.</summary>
    public static PtDitWeights Upload(Gpu gpu, PtDitConfig config, ITensorSource source, AttentionMode mode = AttentionMode.Proxy)
    {
        config.Validate();
        var expected = PtDitKeys.Expected(config);
        var unused = mode == AttentionMode.Global ? GlobalModeUnused(config) : [];
        CheckpointKeys.Verify(source, expected.Where(k => !unused.Contains(k.Name)), optional: [PtDitKeys.PosEmbedBuffer], allowUnexpected: true,
            what: "PT-DiT checkpoint");
        var have = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var wanted = expected.Select(k => k.Name).ToHashSet(StringComparer.Ordinal);
        var unexpected = source.Tensors.Select(t => t.Name).Where(n => !wanted.Contains(n)).ToList();

        source.PrefetchInBackground(expected.Select(k => k.Name).Where(n => !unused.Contains(n)));
        var uploads = new List<(string, Func<HostTensor>, DType, long[])>();
        var fused = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < config.NumLayers; i++)
        {
            string b = PtDitKeys.Block(i);
            foreach (var a in SelfAttentions.Concat(CrossAttentions))
            {
                if (unused.Contains(b + a + ".to_out.0.weight") || !have.ContainsKey(b + a + ".to_out.0.weight")) continue;
                bool self = SelfAttentions.Contains(a);
                string[] parts = self ? ["to_q", "to_k", "to_v"] : ["to_k", "to_v"];
                string fusedName = b + a + (self ? ".to_qkv" : ".to_kv");
                foreach (var suffix in config.AttentionBias ? new[] { ".weight", ".bias" } : [".weight"])
                {
                    var names = parts.Select(p => b + a + "." + p + suffix).ToArray();
                    foreach (var n in names) fused.Add(n);
                    var infos = names.Select(n => have[n]).ToArray();
                    var dtype = infos[0].DType;
                    var shape = (long[])infos[0].Shape.Clone();
                    shape[0] *= names.Length;
                    uploads.Add((fusedName + suffix, () => Concat(names.Select(source.Read).ToArray(), dtype), dtype, shape));
                }
            }
        }
        float[]? positionBuffer = have.ContainsKey(PtDitKeys.PosEmbedBuffer) ? source.Read(PtDitKeys.PosEmbedBuffer).ToFloat32() : null;
        foreach (var (name, _) in expected)
        {
            if (name == PtDitKeys.PosEmbedBuffer) continue;
            if (fused.Contains(name) || unused.Contains(name) || !have.TryGetValue(name, out var info)) continue;
            uploads.Add((name, () => source.Read(name), info.DType, info.Shape));
        }
        // Every [out, in] ".weight" is a Linear's, read only by the GEMM: on CPU devices stored in its panels.
        return new PtDitWeights(config, DeviceWeights.Upload(gpu, uploads, gemmWeight: n => n.EndsWith(".weight", StringComparison.Ordinal)),
            unexpected, positionBuffer);
    }

    /// <summary>Uploads in-memory weights (tests, benchmarks).</summary>
    public static PtDitWeights Upload(Gpu gpu, PtDitConfig config, IReadOnlyDictionary<string, HostTensor> weights, AttentionMode mode = AttentionMode.Proxy)
    {
        using var source = new DictionarySource(weights);
        return Upload(gpu, config, source, mode);
    }

    /// <summary>Keys the global attention mode does not read: the proxy and shifted-window branches.</summary>
    public static HashSet<string> GlobalModeUnused(PtDitConfig config)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in PtDitKeys.Expected(config))
            if (name.StartsWith("transformer_blocks.", StringComparison.Ordinal)
                && (name.Contains(".proxy_attn1.") || name.Contains(".pvisual_attn2.") || name.Contains(".linear_1_visual.")
                    || name.Contains(".attn3.") || name.Contains(".linear_2.") || name.EndsWith(".proxy_scale_shift_table", StringComparison.Ordinal)))
                result.Add(name);
        return result;
    }

    /// <summary>Stacks tensors of one dtype along their first axis.</summary>
    static HostTensor Concat(HostTensor[] parts, DType dtype)
    {
        var shape = (long[])parts[0].Shape.Clone();
        shape[0] = parts.Sum(p => p.Shape[0]);
        var bytes = new byte[parts.Sum(p => (long)p.Bytes.Length)];
        long at = 0;
        foreach (var p in parts)
        {
            var t = p.DType == dtype ? p : p.To(dtype);
            t.Bytes.CopyTo(bytes, at);
            at += t.Bytes.Length;
        }
        return new HostTensor(dtype, shape, bytes);
    }

    public void Dispose() => Device.Dispose();

    /// <summary>An in-memory dictionary seen as a checkpoint.</summary>
    sealed class DictionarySource(IReadOnlyDictionary<string, HostTensor> tensors) : ITensorSource
    {
        public IReadOnlyList<TensorInfo> Tensors { get; } = tensors.Select(kv => new TensorInfo(kv.Key, kv.Value.DType, kv.Value.Shape)).ToList();
        public HostTensor Read(string name) => tensors[name];
        public void Dispose() { }
    }
}
