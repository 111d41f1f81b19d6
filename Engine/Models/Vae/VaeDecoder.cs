using T2X.Vulkan.Kernels;
using T2X.Vulkan.Weights;

namespace T2X.Vulkan.Models.Vae;

/// <summary>When the decode splits the latents into tiles: as the official code (Auto), always, or never.</summary>
public enum VaeTiling { Auto, On, Off }

/// <summary>
/// The Open-Sora-Plan v1.2 CausalVAE decoder on the device (docs/vae.md): latents [B, E, T, h, w]
/// (sampler output, before the scale division) → sample [B, 3, 1 + 4(T − 1), 8h, 8w] (unclamped).
/// Activations run channel-last [B, T, H, W, C] so 1x1x1 convolutions are plain GEMMs and the mid attention reads
/// [B·T, H·W, C] rows; the causal 3-D convolutions are the implicit-GEMM <see cref="Conv3d"/> kernel. Each block runs
/// as its own submit and frees its temporaries, so device memory stays near two activations of the largest level.
/// The tiled path (<see cref="VaeTiles"/>) decodes tiles with the same plain decode and blends on the host.
/// The weights' layouts are <see cref="VaeWeights"/>'s; which path a decode takes and the memory it needs, <see cref="VaePlan"/>'s.
/// </summary>
public sealed class VaeDecoder : IDisposable
{
    public Gpu Gpu { get; }
    public VaeConfig Config { get; }
    readonly DeviceWeights _w;

    public long WeightBytes => _w.Bytes;

    VaeDecoder(Gpu gpu, VaeConfig config, DeviceWeights weights)
    {
        Gpu = gpu;
        Config = config;
        _w = weights;
    }

    /// <summary>Loads vae/: config.json (official `ae` keys) and one weights file (safetensors, or the released
    /// checkpoint.ckpt whose "state_dict" holds encoder and decoder; only decoder.* and post_quant_conv.* are kept).</summary>
    public static VaeDecoder Load(Gpu gpu, string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"VAE folder '{dir}' does not exist");
        string configPath = Path.Combine(dir, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"VAE folder '{dir}' has no config.json", configPath);
        var config = VaeConfig.Load(configPath);
        using var source = Checkpoint.OpenFolder(dir);
        return Create(gpu, config, source);
    }

    /// <summary>Checks the decoder's keys (others, such as encoder.*, are ignored as the official strict=False load
    /// does) and uploads them in the kernels' layouts.</summary>
    public static VaeDecoder Create(Gpu gpu, VaeConfig config, ITensorSource source)
    {
        var keys = config.Keys().ToList();
        CheckpointKeys.Verify(source, keys, allowUnexpected: true, what: "VAE checkpoint");
        source.PrefetchInBackground(keys.Select(k => k.name));
        var tensors = VaeWeights.Tensors(config, source);
        var gemmWeights = tensors.Where(t => t.gemmWeight).Select(t => t.name).ToHashSet(StringComparer.Ordinal);
        var uploads = tensors.Select(t => (t.name, t.read, DType.F32, t.shape));
        return new VaeDecoder(gpu, config, DeviceWeights.Upload(gpu, uploads, gemmWeight: gemmWeights.Contains));
    }

    /// <summary>The device memory a decode may use (null: the device-local heap less what this process already holds).
    /// Tests set small numbers to exercise the fallback to tiles.</summary>
    public long? MemoryLimit { get; set; }

    /// <summary>Decodes host latents [B, E, T, h, w] to the sample [B, 3, T', 8h, 8w], tiled as <paramref name="tiling"/>
    /// says (Auto: the official rule, the plain decode where the official code would crash, and tiles whenever the
    /// chosen decode would not fit in device memory). <paramref name="log"/> hears which path was taken and why.</summary>
    public VaeVolume Decode(float[] latents, long[] shape, VaeTiling tiling = VaeTiling.Auto, Action<string>? log = null)
    {
        var plan = Plan(shape, tiling);
        log?.Invoke(plan.Message);
        return Decode(latents, shape, plan);
    }

    /// <summary>Decodes as a <see cref="Plan(long[], VaeTiling)"/> decided.</summary>
    public VaeVolume Decode(float[] latents, long[] shape, VaePlan plan)
    {
        CheckLatents(shape);
        var z = new VaeVolume(latents, shape);
        using var sample = plan.Tiled ? VaeTiles.Decode(Gpu, plan.Tiles, z, DecodePlain) : DecodePlain(z);
        return new VaeVolume(sample.ToArray(), sample.Shape);
    }

    /// <summary>How this device decodes latents of this shape: <see cref="VaePlan.Choose"/> with the free memory
    /// (<see cref="MemoryLimit"/>, else <see cref="VaePlan.FreeBytes"/>).</summary>
    public VaePlan Plan(long[] shape, VaeTiling tiling)
    {
        CheckLatents(shape);
        return VaePlan.Choose(Config, shape, tiling, MemoryLimit ?? VaePlan.FreeBytes(Gpu));
    }

    /// <summary>The sample shape of a plain decode of latents of this shape (the tiled one agrees when the latent tile
    /// stride times the spatial factor equals the kept pixels per tile, as in the released 56 · 8 = 448).</summary>
    public long[] SampleShape(long[] latents) =>
        [latents[0], VaeConfig.OutChannels, Config.OutputFrames(latents[2]), latents[3] * Config.SpatialFactor, latents[4] * Config.SpatialFactor];

    void CheckLatents(long[] shape)
    {
        if (shape.Length != 5 || shape[1] != Config.EmbedDim || shape.Any(d => d < 1))
            throw new ArgumentException($"latents must be [B, {Config.EmbedDim}, T, h, w] with every axis at least 1, got [{string.Join(",", shape)}]");
    }

    /// <summary>decoder(post_quant_conv(z / scale)) of host latents into a new device sample.</summary>
    OwnedTensor DecodePlain(VaeVolume z)
    {
        using var latents = OwnedTensor.FromArray(Gpu, z.Data, z.Shape);
        return DecodeOnDevice(latents.T);
    }

    /// <summary>The plain decode of device latents [B, E, T, h, w] into a new device tensor [B, 3, T', H, W]
    /// (the caller disposes it).</summary>
    public OwnedTensor DecodeOnDevice(Tensor latents)
    {
        CheckLatents(latents.Shape);
        long b = latents.Dim(0), t = latents.Dim(2), h = latents.Dim(3), w = latents.Dim(4);
        var c = Config;
        long top = c.Width(c.Levels - 1);
        // post_quant_conv on channel-first latents divided by the scale factor, written channel-last.
        var x = Step(null, [b, t, h, w, c.ZChannels], NoTemporaries,
            (seq, _, _, y) => Conv("post_quant_conv", seq, latents, true, y, false, inDiv: (float)c.ScaleFactor));
        x = Step(x, [b, t, h, w, top], NoTemporaries, (seq, xi, _, y) => Conv("decoder.conv_in", seq, xi, false, y, false));
        x = ResBlock("decoder.mid.block_1", x, top);
        x = MidAttention(x);
        x = ResBlock("decoder.mid.block_2", x, top);
        for (int level = c.Levels - 1; level >= 0; level--)
        {
            for (int i = 0; i <= c.NumResBlocks; i++) x = ResBlock($"decoder.up.{level}.block.{i}", x, c.Width(level));
            if (c.DecoderSpatialUpsample[level] == "SpatialUpsample2x") x = Up($"decoder.up.{level}.upsample", UpsampleKind.Nearest2x, x);
            else if (c.DecoderSpatialUpsample[level] == "Spatial2xTime2x3DUpsample") x = Up($"decoder.up.{level}.upsample", UpsampleKind.Spatial2xTime2x, x);
        }
        var s = x.Shape;
        return Step(x, [s[0], VaeConfig.OutChannels, s[1], s[2], s[3]], arena => arena.F32(s), (seq, xi, n, y) =>
        {
            GroupNorm.Record(seq, Rows(xi), _w["decoder.norm_out.weight"], _w["decoder.norm_out.bias"], Rows(n), c.NormNumGroups, (float)c.NormEps, silu: true);
            Conv("decoder.conv_out", seq, n, false, y, true);
        });
    }

    /// <summary>ResnetBlock3D: conv2(silu(norm2(conv1(silu(norm1(x)))))) + shortcut(x), with a 1x1x1 nin_shortcut where
    /// the width changes (as <see cref="VaeConfig.Keys"/> has it).</summary>
    OwnedTensor ResBlock(string p, OwnedTensor x, long cout)
    {
        var s = x.Shape;
        long[] outShape = [s[0], s[1], s[2], s[3], cout];
        bool hasShortcut = s[4] != cout;
        var c = Config;
        return Step(x, outShape,
            arena => (N1: arena.F32(s), H: arena.F32(outShape), N2: arena.F32(outShape), Shortcut: hasShortcut ? arena.F32(outShape) : null),
            (seq, xi, t, y) =>
            {
                GroupNorm.Record(seq, Rows(xi), _w[p + ".norm1.weight"], _w[p + ".norm1.bias"], Rows(t.N1), c.NormNumGroups, (float)c.NormEps, silu: true);
                Conv(p + ".conv1", seq, t.N1, false, t.H, false);
                GroupNorm.Record(seq, Rows(t.H), _w[p + ".norm2.weight"], _w[p + ".norm2.bias"], Rows(t.N2), c.NormNumGroups, (float)c.NormEps, silu: true);
                if (t.Shortcut is not null)
                    Gemm.Record(seq, xi.Reshape(xi.Rows, s[4]), _w[p + ".nin_shortcut.w"], _w[p + ".nin_shortcut.b"], t.Shortcut.Reshape(xi.Rows, cout));
                Conv(p + ".conv2", seq, t.N2, false, y, false, residual: t.Shortcut ?? xi);
            });
    }

    /// <summary>CausalConv3dAttnBlock: single-head attention over the positions of each frame, x + proj_out(o).
    /// The head is the whole width (512 in the release), too wide for the fused Attention kernel's registers, so each
    /// frame runs S = Q·Kᵀ (GEMM), a row softmax with the scale C^-½, and O = P·V as a GEMM against Vᵀ: Vᵀ = Wv·normᵀ
    /// comes from a GEMM without bias, and v's bias is added to O (rows of P sum to 1).</summary>
    OwnedTensor MidAttention(OwnedTensor x)
    {
        const string a = "decoder.mid.attn_1";
        var s = x.Shape;
        long frames = s[0] * s[1], n = s[2] * s[3], c = s[4];
        return Step(x, s,
            arena => (Norm: arena.F32(s), Q: arena.F32(frames * n, c), K: arena.F32(frames * n, c), Scores: arena.F32(n, n), Vt: arena.F32(c, n),
                      O: arena.F32(frames * n, c)),
            (seq, xi, t, y) =>
            {
                GroupNorm.Record(seq, Rows(xi), _w[a + ".norm.weight"], _w[a + ".norm.bias"], Rows(t.Norm), Config.NormNumGroups, (float)Config.NormEps, silu: false);
                var qkvW = _w[a + ".qkv.w"];
                var qkvB = _w[a + ".qkv.b"];
                var rowsOfNorm = t.Norm.Reshape(frames * n, c);
                Gemm.Record(seq, rowsOfNorm, qkvW.Slice(0, c), qkvB.Slice(0, c), t.Q);
                Gemm.Record(seq, rowsOfNorm, qkvW.Slice(c, c), qkvB.Slice(c, c), t.K);
                for (long f = 0; f < frames; f++)
                {
                    Gemm.Record(seq, t.Q.Slice(f * n, n), t.K.Slice(f * n, n), null, t.Scores);
                    Softmax.Record(seq, t.Scores, (float)(1 / Math.Sqrt(c)));
                    Gemm.Record(seq, qkvW.Slice(2 * c, c), rowsOfNorm.Slice(f * n, n), null, t.Vt);
                    Gemm.Record(seq, t.Scores, t.Vt, qkvB.Slice(2 * c, c), t.O.Slice(f * n, n));
                }
                Gemm.Record(seq, t.O, _w[a + ".proj_out.w"], _w[a + ".proj_out.b"], y.Reshape(frames * n, c), residual: xi.Reshape(frames * n, c));
            });
    }

    /// <summary>SpatialUpsample2x or Spatial2xTime2x3DUpsample: the 2x resampling, then its causal conv.</summary>
    OwnedTensor Up(string p, UpsampleKind kind, OwnedTensor x)
    {
        var s = x.Shape;
        long[] upShape = [s[0], Upsample.Frames(kind, s[1]), 2 * s[2], 2 * s[3], s[4]];
        return Step(x, upShape, arena => arena.F32(upShape), (seq, xi, u, y) =>
        {
            Upsample.Record(seq, kind, xi, u);
            Conv(p + ".conv", seq, u, false, y, false);
        });
    }

    void Conv(string p, Sequence seq, Tensor x, bool xFirst, Tensor y, bool yFirst, Tensor? residual = null, float inDiv = 1f)
    {
        // Frame 0 of every causal conv reads only frame 0 through all its time taps (the padding replicates it), so the
        // folded kernel computes it in a third of the work: all of an image, the first frame of a video.
        long frames = xFirst ? x.Dim(2) : x.Dim(1);
        bool folds = _w.Contains(p + ".wf");
        if (VaeWeights.AsGemm(p, xFirst ? x.Dim(1) : x.Dim(-1)))
        {
            if (!folds) Conv3d.RecordGemm(seq, x, _w[p + ".w"], _w[p + ".b"], y, residual);
            else
            {
                Conv3d.RecordGemm(seq, x, _w[p + ".wf"], _w[p + ".b"], y, residual, firstFrame: 0, frames: 1);
                if (frames > 1) Conv3d.RecordGemm(seq, x, _w[p + ".w"], _w[p + ".b"], y, residual, firstFrame: 1);
            }
        }
        else
        {
            var w = folds && frames == 1 ? _w[p + ".wf"] : _w[p + ".w"];   // the narrow ends fold for images only
            Conv3d.Record(seq, x, xFirst, w, _w[p + ".b"], yFirst ? y.Dim(1) : y.Dim(-1), y, yFirst, residual, inDiv);
        }
    }

    static Tensor Rows(Tensor t) => t.Reshape(t.Dim(0), t.Elements / (t.Dim(0) * t.Dim(-1)), t.Dim(-1));

    static object? NoTemporaries(TensorArena arena) => null;

    /// <summary>
    /// One step of the decode in its own submit: its temporaries from one arena, freed when the step ends, and its
    /// output in a buffer of its own, which the next step takes as input and frees (<paramref name="input"/> null: the
    /// first step, which reads the caller's latents). A measuring decoder records nothing: it counts the step's bytes.
    /// </summary>
    OwnedTensor Step<T>(OwnedTensor? input, long[] outShape, Func<TensorArena, T> temporaries, Action<Sequence, Tensor, T, Tensor> record)
    {
        try
        {
            if (_meter is not null)
            {
                var output = Tensor.Unbacked(DType.F32, outShape);
                long inputBytes = input is null ? 0 : TensorArena.BufferBytes(input.T.Bytes);
                _meter.Peak = Math.Max(_meter.Peak, inputBytes + TensorArena.MeasureBytes(arena => temporaries(arena)) + TensorArena.BufferBytes(output.Bytes));
                return new OwnedTensor(output);
            }
            using var scratch = TensorArena.Allocate(Gpu, temporaries, out var t);
            var y = OwnedTensor.Create(Gpu, DType.F32, outShape);
            try
            {
                using var seq = new Sequence(Gpu);
                record(seq, input?.T!, t, y.T);
                seq.Run();
                return y;
            }
            catch
            {
                y.Dispose();
                throw;
            }
        }
        finally { input?.Dispose(); }
    }

    /// <summary>The largest step of a measured decode.</summary>
    sealed class DecodeMeter { public long Peak; }

    readonly DecodeMeter? _meter;

    /// <summary>A decoder with no device and no weights: its decode runs the steps only to count their bytes.</summary>
    VaeDecoder(VaeConfig config)
    {
        Gpu = null!;
        Config = config;
        _w = null!;
        _meter = new DecodeMeter();
    }

    /// <summary>Device bytes a plain decode of latents [B, E, T, h, w] holds at its peak besides the weights, measured by
    /// running its steps without a device: the uploaded latents plus the largest step (its input, its temporaries and
    /// its output), each buffer in whole alignment units.</summary>
    /// <returns>the sample's shape and the peak</returns>
    internal static (long[] Sample, long Peak) MeasurePlainDecode(VaeConfig config, long[] shape)
    {
        var measuring = new VaeDecoder(config);
        var latents = Tensor.Unbacked(DType.F32, shape);
        using var sample = measuring.DecodeOnDevice(latents);
        return (sample.Shape, TensorArena.BufferBytes(latents.Bytes) + measuring._meter!.Peak);
    }

    public void Dispose() => _w?.Dispose();
}
