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
        CheckpointKeys.Verify(source, config.Keys().ToList(), allowUnexpected: true, what: "VAE checkpoint");
        var uploads = DeviceTensors(config, source).Select(t => (t.name, t.read, DType.F32, t.shape));
        return new VaeDecoder(gpu, config, DeviceWeights.Upload(gpu, uploads));
    }

    /// <summary>Device bytes the decoder's weights take once loaded (as <see cref="WeightBytes"/>), from the config alone:
    /// every tensor in its kernel layout, the folded time-tap copies included, each rounded up to the 256-byte
    /// alignment DeviceWeights gives it (an upper bound, exact up to the padding after a buffer's last tensor).</summary>
    public static long DeviceWeightBytes(VaeConfig config) =>
        DeviceTensors(config, null).Sum(t => (t.shape.Aggregate(1L, (x, y) => x * y) * DType.F32.Size() + 255) / 256 * 256);

    /// <summary>The f32 tensors the decoder holds on the device: name, shape and how to read them from the checkpoint
    /// (<paramref name="source"/> null: shapes only, for <see cref="DeviceWeightBytes"/>).</summary>
    static List<(string name, long[] shape, Func<HostTensor> read)> DeviceTensors(VaeConfig config, ITensorSource? source)
    {
        var uploads = new List<(string, long[], Func<HostTensor>)>();
        void Add(string name, long[] shape, Func<HostTensor> read) => uploads.Add((name, shape, read));
        HostTensor Read(string name) => source!.Read(name);
        foreach (var (name, shape) in config.Keys())
        {
            if (!name.EndsWith(".conv.weight", StringComparison.Ordinal))
            {
                if (!name.EndsWith(".conv.bias", StringComparison.Ordinal)) Add(name, shape, () => Read(name).To(DType.F32));
                continue;
            }
            string p = name[..^".conv.weight".Length];
            if (p.StartsWith("decoder.mid.attn_1.", StringComparison.Ordinal)) continue;   // fused below
            long cout = shape[0], cin = shape[1];
            bool gemm = shape[2] * shape[3] * shape[4] == 1 && p != "post_quant_conv";
            if (gemm)
            {
                Add(p + ".w", [cout, cin], () => Reshape(Read(name).To(DType.F32), cout, cin));
                Add(p + ".b", [cout], () => Read(p + ".conv.bias").To(DType.F32));
            }
            else
            {
                bool asGemm = AsGemm(p, cin);
                Func<HostTensor, HostTensor> pack = asGemm ? Conv3d.PackGemmWeight : Conv3d.PackWeight;
                long[] packedShape(long kt) => asGemm ? [cout, kt, shape[3], shape[4], cin] : [kt, shape[3], shape[4], cin, (cout + 3) / 4 * 4];
                Add(p + ".w", packedShape(shape[2]), () => pack(Read(name)));
                // Causal convs with time taps also get their folded kernel, for images (all taps read frame 0).
                if (shape[2] > 1) Add(p + ".wf", packedShape(1), () => pack(Conv3d.FoldTime(Read(name))));
                if (asGemm) Add(p + ".b", [cout], () => Read(p + ".conv.bias").To(DType.F32));
                else Add(p + ".b", [(cout + 3) / 4 * 4], () => Conv3d.PackBias(Read(p + ".conv.bias")));
            }
        }
        // Mid attention: q, k, v fused into one GEMM [3C, C]; proj_out a GEMM with the residual.
        const string a = "decoder.mid.attn_1";
        long c = config.Width(config.Levels - 1);
        Add(a + ".qkv.w", [3 * c, c], () => Concat(new[] { "q", "k", "v" }.Select(n => Read($"{a}.{n}.conv.weight")), 3 * c, c));
        Add(a + ".qkv.b", [3 * c], () => Concat(new[] { "q", "k", "v" }.Select(n => Read($"{a}.{n}.conv.bias")), 3 * c));
        Add(a + ".proj_out.w", [c, c], () => Reshape(Read(a + ".proj_out.conv.weight").To(DType.F32), c, c));
        Add(a + ".proj_out.b", [c], () => Read(a + ".proj_out.conv.bias").To(DType.F32));
        return uploads;
    }

    static HostTensor Reshape(HostTensor t, params long[] shape) => new(t.DType, shape, t.Bytes);

    static HostTensor Concat(IEnumerable<HostTensor> parts, params long[] shape)
        => HostTensor.FromFloat32(parts.SelectMany(p => p.ToFloat32()).ToArray(), shape);

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

    /// <summary>How this device decodes latents of this shape: <see cref="Plan(VaeConfig, long[], VaeTiling, long)"/> with
    /// the free memory (<see cref="MemoryLimit"/>, else <see cref="FreeBytes"/>).</summary>
    public VaePlan Plan(long[] shape, VaeTiling tiling)
    {
        CheckLatents(shape);
        return Plan(Config, shape, tiling, MemoryLimit ?? FreeBytes(Gpu));
    }

    /// <summary>Memory left for activations: the device-local heap less what this process holds on it; on CPU devices
    /// (lavapipe, docs/lavapipe.md §6: its heap reports 2 GiB but buffers are host memory and larger totals allocate fine) the host's
    /// available memory.</summary>
    public static long FreeBytes(Gpu gpu)
    {
        if (!gpu.Info.IsCpu) return (long)gpu.Info.DeviceLocalBytes - gpu.AllocatedBytes;
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
            if (line is not null) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - Environment.WorkingSet;
    }

    /// <summary>
    /// The decode path for latents of this shape with <paramref name="freeBytes"/> of memory left for activations.
    /// On and Off obey. Auto takes the official decision (<see cref="UsesTiles"/>), then, when that decode's peak
    /// (<see cref="PlainDecodeBytes"/>, <see cref="TiledDecodeBytes"/>) would not fit, halves the tile size
    /// (tile_sample_min_size 512, 256, 128, 64: latent tiles of 64 … 8, same overlap) until it fits, or takes the
    /// smallest. Smaller tiles keep GroupNorm and attention tile-local over less context, so such an image differs
    /// from the official one.
    /// </summary>
    public static VaePlan Plan(VaeConfig c, long[] shape, VaeTiling tiling, long freeBytes)
    {
        bool tiled = UsesTiles(c, shape, tiling);
        string official = tiled
            ? $"VAE: tiled decode (latent tiles of {c.TileLatentMinSize}, stride {c.TileLatentStride}, time chunks of {c.TileLatentMinSizeT})"
            : "VAE: plain decode";
        var plan = new VaePlan(tiled, c, official, Fallback: false);
        long need = plan.ActivationBytes(shape);
        if (tiling != VaeTiling.Auto || need <= freeBytes) return plan;
        string shortBy = $"VAE: a {(tiled ? "decode in the official tiles" : "plain decode")} needs about {Mb(need)} of device memory and {Mb(freeBytes)} is free";
        // Halve while the tiles still join up exactly (stride × spatial factor = kept pixels, as 56 · 8 = 448).
        VaeConfig? smallest = null;
        for (var t = c with { TileSampleMinSize = c.TileSampleMinSize / 2 };
             t.TileLatentMinSize >= 1 && t.TileLatentStride >= 1 && t.TileLatentStride * t.SpatialFactor == t.TileKeep;
             t = t with { TileSampleMinSize = t.TileSampleMinSize / 2 })
        {
            smallest = t;
            long tileNeed = TiledDecodeBytes(t, shape);
            if (tileNeed <= freeBytes)
                return new VaePlan(true, t, $"{shortBy}; decoding in tiles of {t.TileLatentMinSize} latents instead (about {Mb(tileNeed)}; " +
                    "tile-local normalisation makes the image differ slightly)", Fallback: true);
        }
        if (smallest is null) return new VaePlan(tiled, c, $"{shortBy}; no smaller tiles join up, trying anyway", Fallback: false);
        return new VaePlan(true, smallest, $"{shortBy}; even tiles of {smallest.TileLatentMinSize} latents need about " +
            $"{Mb(TiledDecodeBytes(smallest, shape))}: trying those", Fallback: true);
    }

    static string Mb(long bytes) => $"{Math.Max(0, bytes) / 1_000_000.0:F0} MB";

    /// <summary>Device bytes a tiled decode (tiles and time chunks of config <paramref name="c"/>) holds at its peak
    /// besides the weights: one tile's plain decode, the decoded tiles of a time chunk and the joined sample.</summary>
    public static long TiledDecodeBytes(VaeConfig c, long[] shape)
    {
        long b = shape[0], t = Math.Min(shape[2], c.TileLatentMinSizeT), h = shape[3], w = shape[4];
        long tile = PlainDecodeBytes(c, [b, shape[1], t, Math.Min(h, c.TileLatentMinSize), Math.Min(w, c.TileLatentMinSize)]);
        long tilesOfAChunk = 0;
        foreach (int r in VaeTiles.Starts((int)h, c.TileLatentStride))
            foreach (int q in VaeTiles.Starts((int)w, c.TileLatentStride))
                tilesOfAChunk += b * VaeConfig.OutChannels * c.OutputFrames(t) * c.SpatialFactor * Math.Min(c.TileLatentMinSize, h - r) * c.SpatialFactor * Math.Min(c.TileLatentMinSize, w - q) * 4;
        long sample = b * VaeConfig.OutChannels * c.OutputFrames(shape[2]) * h * c.SpatialFactor * w * c.SpatialFactor * 4;
        return tile + tilesOfAChunk + sample;
    }

    /// <summary>
    /// Device bytes a plain decode of latents [B, E, T, h, w] holds at its peak besides the weights: the uploaded
    /// latents plus the largest set of tensors one step of <see cref="DecodeOnDevice"/> keeps alive (its input, its
    /// temporaries and its output), each rounded up to 256 bytes. It follows the steps below one for one.
    /// </summary>
    public static long PlainDecodeBytes(VaeConfig c, long[] shape)
    {
        static long Buf(long floats) => (floats * 4 + 255) / 256 * 256;
        long peak = 0;
        void Step(params long[] tensors) => peak = Math.Max(peak, tensors.Sum(Buf));
        long b = shape[0], frames = shape[2], h = shape[3], w = shape[4], top = c.Width(c.Levels - 1);
        long p = b * frames * h * w;
        void Res(long cin, long cout) => Step(p * cin, p * cin, p * cout, p * cout, cin != cout ? p * cout : 0, p * cout);
        Step(p * c.ZChannels);                                   // post_quant_conv (beside the latents)
        Step(p * c.ZChannels, p * top);                          // conv_in
        Res(top, top);                                           // mid.block_1
        Step(p * top, p * top, p * top, p * top, h * w * h * w, top * h * w, p * top, p * top);   // mid.attn_1
        Res(top, top);                                           // mid.block_2
        long cur = top;
        for (int level = c.Levels - 1; level >= 0; level--)
        {
            for (int i = 0; i <= c.NumResBlocks; i++) { Res(cur, c.Width(level)); cur = c.Width(level); }
            string up = c.DecoderSpatialUpsample[level];
            if (up.Length == 0) continue;
            if (up == "Spatial2xTime2x3DUpsample") frames = 2 * frames - 1;
            h *= 2; w *= 2;
            long next = b * frames * h * w;
            Step(p * cur, next * cur, next * cur);
            p = next;
        }
        Step(p * cur, p * cur, p * VaeConfig.OutChannels);     // norm_out, conv_out
        return Buf(shape.Aggregate(1L, (x, y) => x * y)) + peak;
    }

    /// <summary>Whether the official rule (or the user's On/Off) decodes latents of this shape [B, E, T, h, w] in tiles.</summary>
    public static bool UsesTiles(VaeConfig c, long[] shape, VaeTiling tiling) => tiling switch
    {
        VaeTiling.On => true,
        VaeTiling.Off => false,
        // Official: tiles when use_tiling and the latent exceeds one tile; below that the official code crashes
        // (UnboundLocalError, docs/vae.md, quirk V1) and we decode plainly, as Open-Sora-Plan does.
        _ => c.UseTiling && (shape[4] > c.TileLatentMinSize || shape[3] > c.TileLatentMinSize || shape[2] > c.TileLatentMinSizeT),
    };

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
        var latents = Tensor.FromArray(Gpu, z.Data, z.Shape);
        try { return DecodeOnDevice(latents); }
        finally { latents.Buffer.Dispose(); }
    }

    /// <summary>The plain decode of device latents [B, E, T, h, w] into a new device tensor [B, 3, T', H, W]
    /// (the caller disposes it).</summary>
    public OwnedTensor DecodeOnDevice(Tensor latents)
    {
        CheckLatents(latents.Shape);
        long b = latents.Dim(0), t = latents.Dim(2), h = latents.Dim(3), w = latents.Dim(4);
        var c = Config;
        // post_quant_conv on channel-first latents divided by the scale factor, written channel-last.
        var x = Step(seq =>
        {
            var y = New(b, t, h, w, c.ZChannels);
            Conv("post_quant_conv", seq, latents, true, y.T, false, inDiv: (float)c.ScaleFactor);
            seq.Run();
            return y;
        });
        x = Step(x, (seq, xi) => { var y = New(b, t, h, w, c.Width(c.Levels - 1)); Conv("decoder.conv_in", seq, xi, false, y.T, false); seq.Run(); return y; });
        x = ResBlock("decoder.mid.block_1", x);
        x = MidAttention(x);
        x = ResBlock("decoder.mid.block_2", x);
        for (int level = c.Levels - 1; level >= 0; level--)
        {
            for (int i = 0; i <= c.NumResBlocks; i++) x = ResBlock($"decoder.up.{level}.block.{i}", x);
            if (c.DecoderSpatialUpsample[level] == "SpatialUpsample2x") x = Up($"decoder.up.{level}.upsample", UpsampleKind.Nearest2x, x);
            else if (c.DecoderSpatialUpsample[level] == "Spatial2xTime2x3DUpsample") x = Up($"decoder.up.{level}.upsample", UpsampleKind.Spatial2xTime2x, x);
        }
        return Step(x, (seq, xi) =>
        {
            var s = xi.Shape;
            using var n = New(s);
            GroupNorm.Record(seq, Rows(xi), _w["decoder.norm_out.weight"], _w["decoder.norm_out.bias"], Rows(n.T), c.NormNumGroups, (float)c.NormEps, silu: true);
            var y = New(s[0], VaeConfig.OutChannels, s[1], s[2], s[3]);
            Conv("decoder.conv_out", seq, n.T, false, y.T, true);
            seq.Run();
            return y;
        });
    }

    /// <summary>ResnetBlock3D: conv2(silu(norm2(conv1(silu(norm1(x)))))) + shortcut(x).</summary>
    OwnedTensor ResBlock(string p, OwnedTensor x) => Step(x, (seq, xi) =>
    {
        var s = xi.Shape;
        long cout = _w[p + ".norm2.weight"].Elements;
        long[] outShape = [s[0], s[1], s[2], s[3], cout];
        var c = Config;
        using var n1 = New(s);
        GroupNorm.Record(seq, Rows(xi), _w[p + ".norm1.weight"], _w[p + ".norm1.bias"], Rows(n1.T), c.NormNumGroups, (float)c.NormEps, silu: true);
        using var h = New(outShape);
        Conv(p + ".conv1", seq, n1.T, false, h.T, false);
        using var n2 = New(outShape);
        GroupNorm.Record(seq, Rows(h.T), _w[p + ".norm2.weight"], _w[p + ".norm2.bias"], Rows(n2.T), c.NormNumGroups, (float)c.NormEps, silu: true);
        using var shortcut = _w.Contains(p + ".nin_shortcut.w") ? New(outShape) : null;
        if (shortcut is not null)
            Gemm.Record(seq, xi.Reshape(xi.Rows, s[4]), _w[p + ".nin_shortcut.w"], _w[p + ".nin_shortcut.b"], shortcut.T.Reshape(xi.Rows, cout));
        var y = New(outShape);
        Conv(p + ".conv2", seq, n2.T, false, y.T, false, residual: shortcut?.T ?? xi);
        seq.Run();
        return y;
    });

    /// <summary>CausalConv3dAttnBlock: single-head attention over the positions of each frame, x + proj_out(o).
    /// The head is the whole width (512 in the release), too wide for the fused Attention kernel's registers, so each
    /// frame runs S = Q·Kᵀ (GEMM), a row softmax with the scale C^-½, and O = P·V as a GEMM against Vᵀ: Vᵀ = Wv·normᵀ
    /// comes from a GEMM without bias, and v's bias is added to O (rows of P sum to 1).</summary>
    OwnedTensor MidAttention(OwnedTensor x) => Step(x, (seq, xi) =>
    {
        const string a = "decoder.mid.attn_1";
        var s = xi.Shape;
        long frames = s[0] * s[1], n = s[2] * s[3], c = s[4];
        using var norm = New(s);
        GroupNorm.Record(seq, Rows(xi), _w[a + ".norm.weight"], _w[a + ".norm.bias"], Rows(norm.T), Config.NormNumGroups, (float)Config.NormEps, silu: false);
        var qkvW = _w[a + ".qkv.w"];
        var qkvB = _w[a + ".qkv.b"];
        var rowsOfNorm = norm.T.Reshape(frames * n, c);
        using var q = New(frames * n, c);
        using var k = New(frames * n, c);
        Gemm.Record(seq, rowsOfNorm, qkvW.Slice(0, c), qkvB.Slice(0, c), q.T);
        Gemm.Record(seq, rowsOfNorm, qkvW.Slice(c, c), qkvB.Slice(c, c), k.T);
        using var scores = New(n, n);
        using var vt = New(c, n);
        using var o = New(frames * n, c);
        for (long f = 0; f < frames; f++)
        {
            Gemm.Record(seq, q.T.Slice(f * n, n), k.T.Slice(f * n, n), null, scores.T);
            Softmax.Record(seq, scores.T, (float)(1 / Math.Sqrt(c)));
            Gemm.Record(seq, qkvW.Slice(2 * c, c), rowsOfNorm.Slice(f * n, n), null, vt.T);
            Gemm.Record(seq, scores.T, vt.T, qkvB.Slice(2 * c, c), o.T.Slice(f * n, n));
        }
        var y = New(s);
        Gemm.Record(seq, o.T, _w[a + ".proj_out.w"], _w[a + ".proj_out.b"], y.T.Reshape(frames * n, c), residual: xi.Reshape(frames * n, c));
        seq.Run();
        return y;
    });

    /// <summary>SpatialUpsample2x or Spatial2xTime2x3DUpsample: the 2x resampling, then its causal conv.</summary>
    OwnedTensor Up(string p, UpsampleKind kind, OwnedTensor x) => Step(x, (seq, xi) =>
    {
        var s = xi.Shape;
        using var u = New(s[0], Upsample.Frames(kind, s[1]), 2 * s[2], 2 * s[3], s[4]);
        Upsample.Record(seq, kind, xi, u.T);
        var y = New(u.T.Shape);
        Conv(p + ".conv", seq, u.T, false, y.T, false);
        seq.Run();
        return y;
    });

    /// <summary>The wide convolutions (channel-last, Cin a multiple of 8) run as implicit GEMMs; the narrow ends
    /// (post_quant_conv on channel-first latents, conv_in from the 4 latent channels, conv_out into 3 channel-first
    /// samples) on the direct kernel.</summary>
    static bool AsGemm(string p, long cin) => p is not ("post_quant_conv" or "decoder.conv_out") && cin % 8 == 0;

    void Conv(string p, Sequence seq, Tensor x, bool xFirst, Tensor y, bool yFirst, Tensor? residual = null, float inDiv = 1f)
    {
        // Frame 0 of every causal conv reads only frame 0 through all its time taps (the padding replicates it), so the
        // folded kernel computes it in a third of the work: all of an image, the first frame of a video.
        long frames = xFirst ? x.Dim(2) : x.Dim(1);
        bool folds = _w.Contains(p + ".wf");
        if (AsGemm(p, xFirst ? x.Dim(1) : x.Dim(-1)))
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

    OwnedTensor New(params long[] shape) => new(Tensor.Create(Gpu, DType.F32, shape));

    /// <summary>One step in its own sequence (the step runs it before its temporaries go), then frees the step's input.</summary>
    OwnedTensor Step(OwnedTensor input, Func<Sequence, Tensor, OwnedTensor> record)
    {
        try { return Step(seq => record(seq, input.T)); }
        finally { input.Dispose(); }
    }

    OwnedTensor Step(Func<Sequence, OwnedTensor> record)
    {
        using var seq = new Sequence(Gpu);
        return record(seq);
    }

    public void Dispose() => _w.Dispose();
}

/// <summary>How a decode runs: plainly or in the tiles of <paramref name="Tiles"/> (the decoder's config, or one with
/// smaller tiles when memory forced a <paramref name="Fallback"/>), and a one-line message saying so.</summary>
public sealed record VaePlan(bool Tiled, VaeConfig Tiles, string Message, bool Fallback)
{
    /// <summary>Device bytes this decode of latents of <paramref name="shape"/> holds at its peak besides the weights.</summary>
    public long ActivationBytes(long[] shape) => Tiled ? VaeDecoder.TiledDecodeBytes(Tiles, shape) : VaeDecoder.PlainDecodeBytes(Tiles, shape);
}

/// <summary>A device tensor with its own buffer, freed on Dispose.</summary>
public sealed class OwnedTensor(Tensor t) : IDisposable
{
    public Tensor T { get; } = t;
    public long[] Shape => T.Shape;
    public float[] ToArray() => T.ToArray();
    public void Dispose() => T.Buffer.Dispose();
}
