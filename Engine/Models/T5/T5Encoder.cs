using System.Runtime.InteropServices;
using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;
using Upload = (string name, System.Func<T2X.Vulkan.Weights.HostTensor> read, T2X.Vulkan.DType storedType, long[] shape);

namespace T2X.Vulkan.Models.T5;

/// <summary>
/// The T5 (v1.1) encoder on the device, transformers' T5EncoderModel as docs/t5.md §4 states it:
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
    // Streamed: the blocks' uploads, done one block at a time during Encode; the source stays open for them.
    readonly List<Upload>[]? _blockUploads;
    readonly string[][]? _blockReads;   // the checkpoint tensors each block's uploads read
    ITensorSource? _streamSource;

    /// <summary>Device bytes held by the resident weights (0 after <see cref="Release"/>). Streamed, only the embedding
    /// and the final norm stay; each block's weights come and go during each encode.</summary>
    public long WeightBytes => _weights?.Bytes ?? 0;

    /// <summary>True when the blocks are uploaded one at a time during each encode rather than kept on the device.</summary>
    public bool Streamed => _blockUploads is not null;

    T5Encoder(Gpu gpu, T5Config config, DeviceWeights weights, float[] positionTable, string embeddingKey, Epilogue activation,
        List<Upload>[]? blockUploads, string[][]? blockReads, ITensorSource? streamSource)
    {
        _gpu = gpu;
        Config = config;
        _weights = weights;
        _positionTable = positionTable;
        _embeddingKey = embeddingKey;
        _activation = activation;
        _blockUploads = blockUploads;
        _blockReads = blockReads;
        _streamSource = streamSource;
    }

    /// <summary>Loads a Hugging Face folder: config.json and the weights (sharded or single safetensors,
    /// pytorch_model*.bin), found as transformers finds them. <paramref name="streamBlocks"/>: keep only the embedding
    /// and final norm on the device and upload each block's weights just before it runs (T5-XXL's 9.3 GB of blocks
    /// then need one block, ~390 MB in fp16, at a time), at the cost of reading the checkpoint at every encode.</summary>
    public static T5Encoder Load(Gpu gpu, string folder, bool streamBlocks = false)
    {
        var config = T5Config.FromFolder(folder);
        var source = Checkpoint.OpenFolder(folder);
        T5Encoder? encoder = null;
        try { return encoder = Load(gpu, config, source, streamBlocks); }
        finally { if (encoder is null || !streamBlocks) source.Dispose(); }
    }

    /// <summary>Loads from an opened checkpoint. Streamed, the encoder takes ownership of <paramref name="source"/>.</summary>
    public static T5Encoder Load(Gpu gpu, T5Config config, ITensorSource source, bool streamBlocks = false)
    {
        var activation = config.DenseActFn switch
        {
            "gelu_new" or "gelu_pytorch_tanh" => Epilogue.Gelu,
            "silu" or "swish" => Epilogue.Silu,
            _ => throw new NotSupportedException($"T5 feed-forward activation '{config.DenseActFn}' is not supported (supported: gelu_new, gelu_pytorch_tanh, silu)"),
        };
        var infos = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        // The tied embedding: save_pretrained stores it once, normally as shared.weight.
        var expected = config.ExpectedKeys(source.Tensors);
        string embeddingKey = expected[^1].name;
        CheckpointKeys.Verify(source, expected, allowUnexpected: true, what: "T5 encoder checkpoint");

        string bucketKey = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
        var positionTable = source.Read(bucketKey).ToFloat32();

        // Uploads grouped by where they are used: the embedding and final norm, then each block.
        var resident = new List<Upload>();
        var blocks = Enumerable.Range(0, config.NumLayers).Select(_ => new List<Upload>()).ToArray();
        foreach (var (name, shape) in expected)
        {
            if (name == bucketKey || name.Contains(".SelfAttention.q.") || name.Contains(".SelfAttention.k.") || name.Contains(".SelfAttention.v.")) continue;
            (BlockOf(name) is int b ? blocks[b] : resident).Add((name, () => source.Read(name), infos[name].DType, shape));
        }
        for (int i = 0; i < config.NumLayers; i++)
        {
            string p = $"encoder.block.{i}.layer.0.SelfAttention.";
            var dtype = infos[p + "q.weight"].DType;
            blocks[i].Add((p + "qkv", () => Concat([source.Read(p + "q.weight"), source.Read(p + "k.weight"), source.Read(p + "v.weight")], dtype),
                         dtype, [3L * config.InnerDim, config.DModel]));
        }
        var reads = Enumerable.Range(0, config.NumLayers)
            .Select(i => expected.Select(e => e.name).Where(n => n != bucketKey && BlockOf(n) == i).ToArray()).ToArray();
        // Streamed, the first block is read by the first encode, and each block hints the next one then.
        source.PrefetchInBackground(resident.Select(u => u.name).Concat(streamBlocks ? reads[0] : reads.SelectMany(r => r)));
        if (streamBlocks)
            return new T5Encoder(gpu, config, DeviceWeights.Upload(gpu, resident), positionTable, embeddingKey, activation, blocks, reads, source);
        var weights = DeviceWeights.Upload(gpu, resident.Concat(blocks.SelectMany(b => b)), gemmWeight: IsBlockWeight);
        return new T5Encoder(gpu, config, weights, positionTable, embeddingKey, activation, null, null, null);
    }

    /// <summary>A block's tensor: its matrices (q|k|v, o, wi, wo) are read only by the GEMM, so on CPU devices they are
    /// stored in its panels (the position bias table of block 0 is not uploaded; the embedding is not a block's).</summary>
    static bool IsBlockWeight(string name) => BlockOf(name) is not null;

    /// <summary>The block a weight belongs to ("encoder.block.{i}.…"), or null for the embedding and final norm.</summary>
    public static int? BlockOf(string name)
    {
        const string prefix = "encoder.block.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return null;
        int end = name.IndexOf('.', prefix.Length);
        return end > prefix.Length && int.TryParse(name.AsSpan(prefix.Length, end - prefix.Length), out int i) ? i : null;
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
        _streamSource?.Dispose();
        _streamSource = null;
    }

    public void Dispose() => Release();

    /// <summary>
    /// Encodes token ids with their attention mask (both [batch, length], row-major; mask 1 = token, 0 = padding)
    /// into last_hidden_state f32 [batch, length, d_model], left on the device in a tensor the caller disposes.
    /// </summary>
    public OwnedTensor Encode(ReadOnlySpan<long> ids, ReadOnlySpan<long> mask, int batch, int length)
    {
        var (ids32, keyMask) = CheckInputs(ids, mask, batch, length);
        var output = OwnedTensor.Create(_gpu, DType.F32, batch, length, Config.DModel);
        try { Run(ids32, keyMask, batch, length, output.T); }
        catch
        {
            output.Dispose();
            throw;
        }
        return output;
    }

    /// <summary>As <see cref="Encode(ReadOnlySpan{long}, ReadOnlySpan{long}, int, int)"/>, into
    /// <paramref name="output"/> f32 [batch, length, d_model], which the caller holds (<see cref="TextConditioning"/>'s arena).</summary>
    public void Encode(ReadOnlySpan<long> ids, ReadOnlySpan<long> mask, int batch, int length, Tensor output)
    {
        var (ids32, keyMask) = CheckInputs(ids, mask, batch, length);
        if (output.DType != DType.F32 || !output.Shape.SequenceEqual(new long[] { batch, length, Config.DModel }))
            throw new ArgumentException($"T5 encode: the output must be f32 [{batch},{length},{Config.DModel}], got {output}");
        Run(ids32, keyMask, batch, length, output);
    }

    /// <summary>The ids and key mask as the kernels read them, after checking the weights are there and every value.</summary>
    (int[] Ids, float[] KeyMask) CheckInputs(ReadOnlySpan<long> ids, ReadOnlySpan<long> mask, int batch, int length)
    {
        if (_weights is null) throw new InvalidOperationException("the T5 encoder's weights were released");
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
        return (ids32, keyMask);
    }

    /// <summary>The encoder's forward pass of checked inputs into <paramref name="output"/>.</summary>
    void Run(int[] ids32, float[] keyMask, int batch, int length, Tensor output)
    {
        var w = _weights ?? throw new InvalidOperationException("the T5 encoder's weights were released");
        var c = Config;
        int D = c.DModel, inner = c.InnerDim, H = c.NumHeads;
        long rows = (long)batch * length;
        TensorArena? scratch = null;
        try
        {
            scratch = TensorArena.Allocate(_gpu, arena => AllocateScratch(arena, c, batch, length), out var t);
            var (idsT, maskT, bias, x, h, qkv, context, up, hidden) = t;
            idsT.Buffer.Upload<int>(ids32, idsT.Offset);
            maskT.Upload(keyMask);
            bias.Upload(PositionBias(length));
            float eps = (float)c.LayerNormEpsilon;

            var seq = new Sequence(_gpu);
            DeviceWeights? block = null;   // streamed: the weights of the block being run
            try
            {
                Embedding.Record(seq, idsT, w[_embeddingKey], x);
                for (int i = 0; i < c.NumLayers; i++)
                {
                    if (_blockUploads is not null)
                    {
                        // Run what is recorded, then upload this block over the previous one (its buffers written again):
                        // one block on the device at a time.
                        seq.Run();
                        seq.Dispose();
                        seq = new Sequence(_gpu);
                        var source = _streamSource ?? throw new InvalidOperationException("the T5 encoder's weights were released");
                        block = DeviceWeights.Upload(_gpu, _blockUploads[i], gemmWeight: IsBlockWeight, reuse: block);
                        // While this block computes, the OS reads the next one's bytes from disk. In the background:
                        // the hint itself may wait for the disk's queue.
                        if (i + 1 < c.NumLayers) source.PrefetchInBackground(_blockReads![i + 1]);
                    }
                    var bw = block ?? w;
                    string p = $"encoder.block.{i}.layer.";
                    RmsNorm.Record(seq, x, bw[p + "0.layer_norm.weight"], h, eps);
                    Gemm.Record(seq, h, bw[p + "0.SelfAttention.qkv"], null, qkv);
                    Attention.Record(seq, new AttentionInput(qkv, 0), new AttentionInput(qkv, inner), new AttentionInput(qkv, 2 * inner),
                        context, H, c.DKv, scale: 1f, keyMask: maskT, bias: bias);
                    Gemm.Record(seq, context, bw[p + "0.SelfAttention.o.weight"], null, x, residual: x);

                    RmsNorm.Record(seq, x, bw[p + "1.layer_norm.weight"], h, eps);
                    var hRows = h.Reshape(rows, D);
                    if (c.IsGatedAct)
                    {
                        // hidden = act(h·wi_0ᵀ) ⊙ (h·wi_1ᵀ): the gate GEMM's epilogue multiplies by the rows of `up`.
                        Gemm.Record(seq, hRows, bw[p + "1.DenseReluDense.wi_1.weight"], null, up);
                        Gemm.Record(seq, hRows, bw[p + "1.DenseReluDense.wi_0.weight"], null, hidden, _activation, gate: up);
                    }
                    else Gemm.Record(seq, hRows, bw[p + "1.DenseReluDense.wi.weight"], null, hidden, _activation);
                    Gemm.Record(seq, hidden, bw[p + "1.DenseReluDense.wo.weight"], null, x.Reshape(rows, D), residual: x.Reshape(rows, D));
                }
                RmsNorm.Record(seq, x, w["encoder.final_layer_norm.weight"], output, eps);
                seq.Run();
            }
            finally
            {
                seq.Dispose();
                block?.Dispose();
            }
        }
        finally
        {
            scratch?.Dispose();
        }
    }

    /// <summary>Encode's scratch for [batch, length]: ids, key mask, position bias [heads, length, length], x, h, q|k|v,
    /// context, and the feed-forward's up and hidden rows.</summary>
    static (Tensor Ids, Tensor Mask, Tensor Bias, Tensor X, Tensor H, Tensor Qkv, Tensor Context, Tensor Up, Tensor Hidden) AllocateScratch(
        TensorArena arena, T5Config c, int batch, int length)
    {
        long rows = (long)batch * length;
        return (arena.New(DType.I32, batch, length), arena.F32(batch, length), arena.F32(c.NumHeads, length, length),
            arena.F32(batch, length, c.DModel), arena.F32(batch, length, c.DModel), arena.F32(batch, length, 3L * c.InnerDim),
            arena.F32(batch, length, c.InnerDim), arena.F32(rows, c.DFf), arena.F32(rows, c.DFf));
    }

    /// <summary>Device bytes Encode's scratch takes for [batch, length] (measured, nothing allocated): what a memory
    /// plan counts.</summary>
    internal static long ScratchBytes(T5Config c, int batch, int length)
        => TensorArena.MeasureBytes(arena => AllocateScratch(arena, c, batch, length));

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
