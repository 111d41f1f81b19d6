using T2X.Vulkan.Models.Vae;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Reference;

/// <summary>
/// Double-precision CPU reference of the Open-Sora-Plan v1.2 CausalVAE decoder, written from
/// docs/vae.md in its own layout [B, C, T, H, W] with plain loops: plain decode (docs/vae.md §3, §4) and
/// the official tiled decode (docs/vae.md §7).
/// </summary>
public sealed class VaeReference(VaeConfig c, IReadOnlyDictionary<string, HostTensor> weights)
{
    /// <summary>A double volume [B, C, T, H, W].</summary>
    public sealed class Vol(int b, int ch, int t, int h, int w)
    {
        public readonly int B = b, C = ch, T = t, H = h, W = w;
        public readonly double[] D = new double[(long)b * ch * t * h * w];
        public ref double this[int n, int k, int f, int y, int x] => ref D[(((((long)n * C + k) * T + f) * H + y) * W) + x];
        public Vol Crop(int t0, int t1, int y0, int y1, int x0, int x1)
        {
            var r = new Vol(B, C, t1 - t0, y1 - y0, x1 - x0);
            for (int n = 0; n < B; n++) for (int k = 0; k < C; k++) for (int f = 0; f < r.T; f++) for (int y = 0; y < r.H; y++) for (int x = 0; x < r.W; x++)
                r[n, k, f, y, x] = this[n, k, t0 + f, y0 + y, x0 + x];
            return r;
        }
    }

    public static Vol FromFloats(float[] v, long[] s)
    {
        var r = new Vol((int)s[0], (int)s[1], (int)s[2], (int)s[3], (int)s[4]);
        for (long i = 0; i < v.LongLength; i++) r.D[i] = v[i];
        return r;
    }

    double[] W(string name) => weights[name].ToFloat64();
    long[] S(string name) => weights[name].Shape;

    /// <summary>decoder(post_quant_conv(z / scale_factor)).</summary>
    public Vol Decode(Vol latents)
    {
        var z = new Vol(latents.B, latents.C, latents.T, latents.H, latents.W);
        for (long i = 0; i < z.D.LongLength; i++) z.D[i] = latents.D[i] / c.ScaleFactor;
        var x = Conv(z, "post_quant_conv");
        x = Conv(x, "decoder.conv_in");
        x = Res(x, "decoder.mid.block_1");
        x = Attn(x, "decoder.mid.attn_1");
        x = Res(x, "decoder.mid.block_2");
        for (int level = c.Levels - 1; level >= 0; level--)
        {
            for (int i = 0; i <= c.NumResBlocks; i++) x = Res(x, $"decoder.up.{level}.block.{i}");
            string up = c.DecoderSpatialUpsample[level];
            if (up == "SpatialUpsample2x") x = Conv(Nearest(x), $"decoder.up.{level}.upsample.conv");
            else if (up == "Spatial2xTime2x3DUpsample") x = Conv(Trilinear(x), $"decoder.up.{level}.upsample.conv");
        }
        x = Silu(Norm(x, "decoder.norm_out"));
        return Conv(x, "decoder.conv_out");
    }

    /// <summary>CausalConv3d: kt−1 copies of frame 0 in front, zero spatial padding kh/2.</summary>
    Vol Conv(Vol x, string p)
    {
        var w = W(p + ".conv.weight"); var b = W(p + ".conv.bias"); var s = S(p + ".conv.weight");
        int co = (int)s[0], ci = (int)s[1], kt = (int)s[2], kh = (int)s[3], kw = (int)s[4], pad = kh / 2;
        var y = new Vol(x.B, co, x.T, x.H, x.W);
        for (int n = 0; n < x.B; n++) for (int o = 0; o < co; o++) for (int t = 0; t < x.T; t++) for (int i = 0; i < x.H; i++) for (int j = 0; j < x.W; j++)
        {
            double acc = b[o];
            for (int k = 0; k < ci; k++) for (int dt = 0; dt < kt; dt++)
            {
                int ts = Math.Max(t + dt - (kt - 1), 0);
                for (int di = 0; di < kh; di++)
                {
                    int ii = i + di - pad; if (ii < 0 || ii >= x.H) continue;
                    for (int dj = 0; dj < kw; dj++)
                    {
                        int jj = j + dj - pad; if (jj < 0 || jj >= x.W) continue;
                        acc += w[((((long)o * ci + k) * kt + dt) * kh + di) * kw + dj] * x[n, k, ts, ii, jj];
                    }
                }
            }
            y[n, o, t, i, j] = acc;
        }
        return y;
    }

    /// <summary>GroupNorm: stats per sample and group over the group's channels × all frames × rows × cols.</summary>
    Vol Norm(Vol x, string p)
    {
        var g = W(p + ".weight"); var be = W(p + ".bias");
        int groups = c.NormNumGroups, per = x.C / groups;
        var y = new Vol(x.B, x.C, x.T, x.H, x.W);
        long plane = (long)x.T * x.H * x.W;
        for (int n = 0; n < x.B; n++) for (int gr = 0; gr < groups; gr++)
        {
            long start = ((long)n * x.C + gr * per) * plane, count = per * plane;
            double mean = 0; for (long i = 0; i < count; i++) mean += x.D[start + i]; mean /= count;
            double v = 0; for (long i = 0; i < count; i++) v += (x.D[start + i] - mean) * (x.D[start + i] - mean); v /= count;
            double rstd = 1 / Math.Sqrt(v + c.NormEps);
            for (long i = 0; i < count; i++) { int ch = gr * per + (int)(i / plane); y.D[start + i] = (x.D[start + i] - mean) * rstd * g[ch] + be[ch]; }
        }
        return y;
    }

    static Vol Silu(Vol x) { for (long i = 0; i < x.D.LongLength; i++) x.D[i] = x.D[i] / (1 + Math.Exp(-x.D[i])); return x; }

    static Vol Add(Vol a, Vol b) { var r = new Vol(a.B, a.C, a.T, a.H, a.W); for (long i = 0; i < r.D.LongLength; i++) r.D[i] = a.D[i] + b.D[i]; return r; }

    Vol Res(Vol x, string p)
    {
        var h = Conv(Silu(Norm(x, p + ".norm1")), p + ".conv1");
        h = Conv(Silu(Norm(h, p + ".norm2")), p + ".conv2");
        return Add(weights.ContainsKey(p + ".nin_shortcut.conv.weight") ? Conv(x, p + ".nin_shortcut") : x, h);
    }

    /// <summary>Single-head attention over each frame's positions, scale C^-0.5 after QᵀK, x + proj_out(O).</summary>
    Vol Attn(Vol x, string p)
    {
        var y = Norm(x, p + ".norm");
        Vol q = Conv(y, p + ".q"), k = Conv(y, p + ".k"), v = Conv(y, p + ".v");
        var o = new Vol(x.B, x.C, x.T, x.H, x.W);
        int n = x.H * x.W;
        double scale = Math.Pow(x.C, -0.5);
        for (int b = 0; b < x.B; b++) for (int t = 0; t < x.T; t++)
            for (int i = 0; i < n; i++)
            {
                var s = new double[n];
                double max = double.NegativeInfinity;
                for (int j = 0; j < n; j++)
                {
                    double dot = 0;
                    for (int ch = 0; ch < x.C; ch++) dot += q[b, ch, t, i / x.W, i % x.W] * k[b, ch, t, j / x.W, j % x.W];
                    s[j] = dot * scale; max = Math.Max(max, s[j]);
                }
                double sum = 0; for (int j = 0; j < n; j++) { s[j] = Math.Exp(s[j] - max); sum += s[j]; }
                for (int ch = 0; ch < x.C; ch++)
                {
                    double acc = 0; for (int j = 0; j < n; j++) acc += v[b, ch, t, j / x.W, j % x.W] * s[j];
                    o[b, ch, t, i / x.W, i % x.W] = acc / sum;
                }
            }
        return Add(x, Conv(o, p + ".proj_out"));
    }

    static Vol Nearest(Vol x)
    {
        var y = new Vol(x.B, x.C, x.T, 2 * x.H, 2 * x.W);
        for (int n = 0; n < x.B; n++) for (int k = 0; k < x.C; k++) for (int t = 0; t < x.T; t++) for (int i = 0; i < y.H; i++) for (int j = 0; j < y.W; j++)
            y[n, k, t, i, j] = x[n, k, t, i / 2, j / 2];
        return y;
    }

    /// <summary>Linear 2x (align_corners=False) of output index d over n inputs: (i0, i1, weight of i1).</summary>
    static (int, int, double) Taps(int d, int n)
    {
        double s = Math.Max((d + 0.5) / 2 - 0.5, 0);
        int i0 = (int)Math.Floor(s);
        return (i0, Math.Min(i0 + 1, n - 1), s - i0);
    }

    /// <summary>Spatial2xTime2x3DUpsample without its conv: frame 0 bilinear in space, frames 1.. trilinear.</summary>
    static Vol Trilinear(Vol x)
    {
        var y = new Vol(x.B, x.C, 2 * x.T - 1, 2 * x.H, 2 * x.W);
        double Space(int n, int k, int t, int i, int j)
        {
            var (i0, i1, li) = Taps(i, x.H); var (j0, j1, lj) = Taps(j, x.W);
            double r0 = x[n, k, t, i0, j0] * (1 - lj) + x[n, k, t, i0, j1] * lj;
            double r1 = x[n, k, t, i1, j0] * (1 - lj) + x[n, k, t, i1, j1] * lj;
            return r0 * (1 - li) + r1 * li;
        }
        for (int n = 0; n < x.B; n++) for (int k = 0; k < x.C; k++) for (int t = 0; t < y.T; t++) for (int i = 0; i < y.H; i++) for (int j = 0; j < y.W; j++)
        {
            if (t == 0) { y[n, k, t, i, j] = Space(n, k, 0, i, j); continue; }
            var (t0, t1, lt) = Taps(t - 1, x.T - 1);
            y[n, k, t, i, j] = Space(n, k, 1 + t0, i, j) * (1 - lt) + Space(n, k, 1 + t1, i, j) * lt;
        }
        return y;
    }

    /// <summary>The official tiled decode: time chunks overlapping by one latent frame, spatial tiles blended in place.</summary>
    public Vol DecodeTiled(Vol z)
    {
        int nt = c.TileLatentMinSizeT;
        var starts = new List<int>();
        for (int s = 0; s < z.T; s += nt - 1) starts.Add(s);
        var chunks = new List<(int, int)>();
        if (starts.Count == 1) chunks.Add((0, z.T));
        else
        {
            for (int i = 0; i + 1 < starts.Count; i++) chunks.Add((starts[i], starts[i + 1] + 1));
            if (chunks[^1].Item2 < z.T) chunks.Add((starts[^1], z.T));
        }
        var parts = new List<Vol>();
        for (int i = 0; i < chunks.Count; i++)
        {
            var d = Tiled2d(z.Crop(chunks[i].Item1, chunks[i].Item2, 0, z.H, 0, z.W));
            parts.Add(i == 0 ? d : d.Crop(1, d.T, 0, d.H, 0, d.W));
        }
        var r = new Vol(parts[0].B, parts[0].C, parts.Sum(p => p.T), parts[0].H, parts[0].W);
        int t0 = 0;
        foreach (var p in parts)
        {
            for (int n = 0; n < p.B; n++) for (int k = 0; k < p.C; k++) for (int f = 0; f < p.T; f++) for (int y = 0; y < p.H; y++) for (int x = 0; x < p.W; x++)
                r[n, k, t0 + f, y, x] = p[n, k, f, y, x];
            t0 += p.T;
        }
        return r;
    }

    Vol Tiled2d(Vol z)
    {
        int l = (int)(c.TileSampleMinSize / Math.Pow(2, c.Levels - 1));
        int stride = (int)(l * (1 - c.TileOverlapFactor)), extent = (int)(c.TileSampleMinSize * c.TileOverlapFactor), keep = c.TileSampleMinSize - extent;
        var rows = new List<List<Vol>>();
        for (int i = 0; i < z.H; i += stride)
        {
            var row = new List<Vol>();
            for (int j = 0; j < z.W; j += stride) row.Add(Decode(z.Crop(0, z.T, i, Math.Min(i + l, z.H), j, Math.Min(j + l, z.W))));
            rows.Add(row);
        }
        for (int i = 0; i < rows.Count; i++)
            for (int j = 0; j < rows[i].Count; j++)
            {
                var b = rows[i][j];
                if (i > 0)
                {
                    var a = rows[i - 1][j]; int e = Math.Min(Math.Min(a.H, b.H), extent);
                    for (int n = 0; n < b.B; n++) for (int k = 0; k < b.C; k++) for (int f = 0; f < b.T; f++) for (int y = 0; y < e; y++) for (int x = 0; x < b.W; x++)
                        b[n, k, f, y, x] = a[n, k, f, a.H - e + y, x] * (1 - (double)y / e) + b[n, k, f, y, x] * ((double)y / e);
                }
                if (j > 0)
                {
                    var a = rows[i][j - 1]; int e = Math.Min(Math.Min(a.W, b.W), extent);
                    for (int n = 0; n < b.B; n++) for (int k = 0; k < b.C; k++) for (int f = 0; f < b.T; f++) for (int y = 0; y < b.H; y++) for (int x = 0; x < e; x++)
                        b[n, k, f, y, x] = a[n, k, f, y, a.W - e + x] * (1 - (double)x / e) + b[n, k, f, y, x] * ((double)x / e);
                }
            }
        int height = rows.Sum(r => Math.Min(r[0].H, keep)), width = rows[0].Sum(t => Math.Min(t.W, keep));
        var t00 = rows[0][0];
        var result = new Vol(t00.B, t00.C, t00.T, height, width);
        int y0 = 0;
        foreach (var row in rows)
        {
            int x0 = 0, h = Math.Min(row[0].H, keep);
            foreach (var t in row)
            {
                int w = Math.Min(t.W, keep);
                for (int n = 0; n < t.B; n++) for (int k = 0; k < t.C; k++) for (int f = 0; f < t.T; f++) for (int y = 0; y < h; y++) for (int x = 0; x < w; x++)
                    result[n, k, f, y0 + y, x0 + x] = t[n, k, f, y, x];
                x0 += w;
            }
            y0 += h;
        }
        return result;
    }
}
