using System.Runtime.InteropServices;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Models.T5;

/// <summary>
/// The T5 (v1.1) encoder on the device, transformers' T5EncoderModel as spec t5-encoder.md section 4 states it:
/// embedding → per block x += Attn(RMSNorm(x)) with block 0's relative position bias shared by every block and no
/// 1/√d logit scale, x += FF(RMSNorm(x)) (gated GELU for v1.1) → final RMSNorm = last_hidden_state.
/// Weights keep their stored dtype (f32, f16, bf16); activations, norms, softmax and accumulation are f32.
/// q, k and v are uploaded as one fused [3·H·d, D] weight so each block runs one projection GEMM.
/// </summary>
public sealed class T5Encoder : IDisposable
{
    public T5Config Config { get; }
    public Gpu Gpu => _gpu;
    readonly Gpu _gpu;
    DeviceWeights? _weights;
    readonly float[] _positionTable;   // block 0's relative_attention_bias [buckets, H], applied on the host
    readonly string _embeddingKey;
    readonly Epilogue _activation;

    /// <summary>Device bytes held by the weights (0 after <see cref="Release"/>).</summary>
    public long WeightBytes => _weights?.Bytes ?? 0;

    T5Encoder(Gpu gpu, T5Config config, DeviceWeights weights, float[] positionTable, string embeddingKey, Epilogue activation)
    {
        _gpu = gpu;
        Config = config;
        _weights = weights;
        _positionTable = positionTable;
        _embeddingKey = embeddingKey;
        _activation = activation;
    }

    /// <summary>Loads a Hugging Face folder: config.json and the weights (sharded or single safetensors,
    /// pytorch_model*.bin), found as transformers finds them.</summary>
    public static T5Encoder Load(Gpu gpu, string folder)
    {
        var config = T5Config.FromFolder(folder);
        using var source = Checkpoint.OpenFolder(folder);
        return Load(gpu, config, source);
    }

    public static T5Encoder Load(Gpu gpu, T5Config config, ITensorSource source)
    {
        var activation = config.DenseActFn switch
        {
            "gelu_new" or "gelu_pytorch_tanh" => Epilogue.Gelu,
            "silu" or "swish" => Epilogue.Silu,
            _ => throw new NotSupportedException($"T5 feed-forward activation '{config.DenseActFn}' is not supported (supported: gelu_new, gelu_pytorch_tanh, silu)"),
        };
        var infos = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        // The tied embedding: save_pretrained stores it once, normally as shared.weight.
        string embeddingKey = T5Config.EmbeddingKeys.FirstOrDefault(infos.ContainsKey)
            ?? throw new InvalidDataException($"T5 checkpoint has no input embedding (looked for {string.Join(", ", T5Config.EmbeddingKeys)})");
        var expected = config.LayerKeys().Append((embeddingKey, [config.VocabSize, config.DModel])).ToList();
        CheckpointKeys.Verify(source, expected, allowUnexpected: true, what: "T5 encoder checkpoint");

        string bucketKey = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
        var positionTable = source.Read(bucketKey).ToFloat32();

        var uploads = new List<(string, Func<HostTensor>, DType, long[])>();
        foreach (var (name, shape) in expected)
        {
            if (name == bucketKey || name.Contains(".SelfAttention.q.") || name.Contains(".SelfAttention.k.") || name.Contains(".SelfAttention.v.")) continue;
            uploads.Add((name, () => source.Read(name), infos[name].DType, shape));
        }
        for (int i = 0; i < config.NumLayers; i++)
        {
            string p = $"encoder.block.{i}.layer.0.SelfAttention.";
            var dtype = infos[p + "q.weight"].DType;
            uploads.Add((p + "qkv", () => Concat([source.Read(p + "q.weight"), source.Read(p + "k.weight"), source.Read(p + "v.weight")], dtype),
                         dtype, [3L * config.InnerDim, config.DModel]));
        }
        var weights = DeviceWeights.Upload(gpu, uploads);
        return new T5Encoder(gpu, config, weights, positionTable, embeddingKey, activation);
    }

    /// <summary>Rows of same-width tensors stacked into one (converted to <paramref name="dtype"/>).</summary>
    static HostTensor Concat(HostTensor[] parts, DType dtype)
    {
        var bytes = new byte[parts.Sum(p => p.Elements) * dtype.Size()];
        long offset = 0;
        foreach (var part in parts)
        {
            var p = part.To(dtype);
            p.Bytes.CopyTo(bytes, offset);
            offset += p.Bytes.Length;
        }
        return new HostTensor(dtype, [parts.Sum(p => p.Shape[0]), parts[0].Shape[1]], bytes);
    }

    /// <summary>Frees the weights (the encoder can no longer encode); for small devices, after the text is encoded.</summary>
    public void Release()
    {
        _weights?.Dispose();
        _weights = null;
    }

    public void Dispose() => Release();

    /// <summary>
    /// Encodes token ids with their attention mask (both [batch, length], row-major; mask 1 = token, 0 = padding)
    /// into last_hidden_state f32 [batch, length, d_model], left on the device (the caller disposes its buffer).
    /// </summary>
    public Tensor Encode(ReadOnlySpan<long> ids, ReadOnlySpan<long> mask, int batch, int length)
    {
        var w = _weights ?? throw new InvalidOperationException("the T5 encoder's weights were released");
        var c = Config;
        if (batch < 1 || length < 1) throw new ArgumentException($"T5 encode: batch ({batch}) and length ({length}) must be positive");
        if (ids.Length != batch * length || mask.Length != batch * length)
            throw new ArgumentException($"T5 encode: input_ids has {ids.Length} and attention_mask {mask.Length} values; expected {batch}×{length}");
        var ids32 = new int[ids.Length];
        var keyMask = new float[mask.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] < 0 || ids[i] >= c.VocabSize)
                throw new ArgumentException($"T5 encode: input_ids[{i / length}, {i % length}] = {ids[i]} is outside the vocabulary [0, {c.VocabSize})");
            if (mask[i] is not (0 or 1))
                throw new ArgumentException($"T5 encode: attention_mask[{i / length}, {i % length}] = {mask[i]}; expected 0 or 1");
            ids32[i] = (int)ids[i];
            keyMask[i] = mask[i];
        }

        int D = c.DModel, inner = c.InnerDim, F = c.DFf, H = c.NumHeads;
        long rows = (long)batch * length;
        var scratch = new List<Tensor>();
        Tensor New(DType t, params long[] shape) { var x = Tensor.Create(_gpu, t, shape); scratch.Add(x); return x; }
        var output = Tensor.Create(_gpu, DType.F32, batch, length, D);
        try
        {
            var idsT = New(DType.I32, batch, length);
            idsT.Buffer.Upload<int>(ids32, idsT.Offset);
            var maskT = New(DType.F32, batch, length);
            maskT.Upload(keyMask);
            var bias = New(DType.F32, H, length, length);
            bias.Upload(PositionBias(length));
            var x = New(DType.F32, batch, length, D);
            var h = New(DType.F32, batch, length, D);
            var qkv = New(DType.F32, batch, length, 3L * inner);
            var context = New(DType.F32, batch, length, inner);
            var up = New(DType.F32, rows, F);
            var hidden = New(DType.F32, rows, F);
            var zeros = c.IsGatedAct ? New(DType.F32, rows, F) : null;
            float eps = (float)c.LayerNormEpsilon;

            using var seq = new Sequence(_gpu);
            if (zeros is not null) seq.Fill(zeros);
            Embedding.Record(seq, idsT, w[_embeddingKey], x);
            for (int i = 0; i < c.NumLayers; i++)
            {
                string p = $"encoder.block.{i}.layer.";
                RmsNorm.Record(seq, x, w[p + "0.layer_norm.weight"], h, eps);
                Gemm.Record(seq, h, w[p + "0.SelfAttention.qkv"], null, qkv);
                Attention.Record(seq, new AttentionInput(qkv, 0), new AttentionInput(qkv, inner), new AttentionInput(qkv, 2 * inner),
                    context, H, c.DKv, scale: 1f, keyMask: maskT, bias: bias);
                Gemm.Record(seq, context, w[p + "0.SelfAttention.o.weight"], null, x, residual: x);

                RmsNorm.Record(seq, x, w[p + "1.layer_norm.weight"], h, eps);
                var hRows = h.Reshape(rows, D);
                if (zeros is not null)
                {
                    // hidden = act(h·wi_0ᵀ) ⊙ (h·wi_1ᵀ): the gate GEMM's epilogue multiplies by the rows of `up`.
                    Gemm.Record(seq, hRows, w[p + "1.DenseReluDense.wi_1.weight"], null, up);
                    Gemm.Record(seq, hRows, w[p + "1.DenseReluDense.wi_0.weight"], null, hidden, _activation, residual: zeros, gate: up);
                }
                else Gemm.Record(seq, hRows, w[p + "1.DenseReluDense.wi.weight"], null, hidden, _activation);
                Gemm.Record(seq, hidden, w[p + "1.DenseReluDense.wo.weight"], null, x.Reshape(rows, D), residual: x.Reshape(rows, D));
            }
            RmsNorm.Record(seq, x, w["encoder.final_layer_norm.weight"], output, eps);
            seq.Run();
            return output;
        }
        catch
        {
            output.Buffer.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in scratch) t.Buffer.Dispose();
        }
    }

    /// <summary>P[h, i, j] = relative_attention_bias[bucket(j − i), h] for a sequence of the given length.</summary>
    float[] PositionBias(int length)
    {
        int H = Config.NumHeads;
        var buckets = Config.BucketTable(length);
        var bias = new float[(long)H * length * length];
        for (int h = 0; h < H; h++)
            for (int ij = 0; ij < buckets.Length; ij++)
                bias[(long)h * buckets.Length + ij] = _positionTable[buckets[ij] * H + h];
        return bias;
    }
}
