using T2X.Benchmarks;
using T2X.Vulkan.Models.PtDit;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Reference;

/// <summary>
/// A straightforward CPU evaluation of the PT-DiT predictor in double precision, written from
/// docs/ptdit.md (§4 to §8) and checked against the official MindSpeed-MM code. It works on
/// weights in the official key layout. Where the official float32 run rounds to float32 in a way that changes results
/// by more than 1e-6 (the timestep sinusoid, the position table), this reference rounds the same way.
/// Quirks of docs/ptdit.md reproduced: Q1 (block modulation row R uses sample R mod B), Q2 (non-square position table),
/// Q5 (shift-0 axes get region label 2), Q6 (proxy sub-lattice), Q7 (−10000 biases), Q10 (no norm before text
/// attention, no gate on proxy injection, shifted-window gate inside linear_2).
/// </summary>
public sealed class PtDitReference
{
    readonly PtDitConfig _c;
    readonly IReadOnlyDictionary<string, HostTensor> _weights;
    readonly Dictionary<string, double[]> _cache = [];

    public PtDitReference(PtDitConfig config, IReadOnlyDictionary<string, HostTensor> weights)
    {
        config.Validate();
        _c = config;
        _weights = weights;
    }

    double[] W(string key)
    {
        if (_cache.TryGetValue(key, out var v)) return v;
        if (!_weights.TryGetValue(key, out var t)) throw new KeyNotFoundException($"reference: no weight '{key}'");
        return _cache[key] = t.ToFloat64();
    }

    double[]? WOrNull(string key) => _weights.ContainsKey(key) ? W(key) : null;

    /// <summary>
    /// The predictor: latents [B, C, F, Hl, Wl], timestep [B], text [B, L, caption_channels], mask [B, L] or null.
    /// Returns [B, out_channels, F, Hl, Wl].
    /// </summary>
    public double[] Forward(double[] latents, int B, int F, int Hl, int Wl, double[] timestep, double[] text, int L, double[]? mask,
        AttentionMode mode = AttentionMode.Proxy)
    {
        var c = _c;
        int D = c.Dim, p = c.PatchSize;
        c.CheckLatentSize(F, Hl, Wl);
        var g = new Geometry(c, F, Hl / p, Wl / p);

        // 4.1–4.2 patch embedding + position table, straight into the window layout X[b*P + window, n, :].
        var X = new double[(long)B * g.Tokens * D];
        var pe = PositionTable(F, g.H, g.W);
        var pw = W("pos_embed.proj.weight");
        var pb = W("pos_embed.proj.bias");
        int C = c.InChannels;
        for (int b = 0; b < B; b++)
            for (int f = 0; f < F; f++)
                for (int r = 0; r < g.H; r++)
                    for (int col = 0; col < g.W; col++)
                    {
                        long row = (long)b * g.Tokens + g.Seq(f, r, col);
                        for (int d = 0; d < D; d++)
                        {
                            double s = pb[d];
                            for (int ci = 0; ci < C; ci++)
                                for (int ky = 0; ky < p; ky++)
                                    for (int kx = 0; kx < p; kx++)
                                        s += pw[((d * C + ci) * p + ky) * p + kx] * latents[((((long)b * C + ci) * F + f) * Hl + p * r + ky) * Wl + p * col + kx];
                            X[row * D + d] = s + pe[(((long)f * g.H + r) * g.W + col) * D + d];
                        }
                    }

        // 4.3 timestep embedding: temb [B, D], temb6 [B, 6D].
        var sinus = new double[B * 256];
        for (int b = 0; b < B; b++) TimestepSinusoid(timestep[b]).CopyTo(sinus, b * 256);
        var temb = Linear(Silu(Linear(sinus, B, "adaln_single.emb.timestep_embedder.linear_1")), B, "adaln_single.emb.timestep_embedder.linear_2");
        var temb6 = Linear(Silu(temb), B, "adaln_single.linear");

        // 4.4 caption projection and the text bias.
        var ctx = Linear(GeluTanh(Linear(text, B * L, "caption_projection.linear_1")), B * L, "caption_projection.linear_2");
        var beta = new double[B * L];
        if (mask != null) for (int i = 0; i < B * L; i++) beta[i] = (1 - mask[i]) * -10000.0;

        for (int i = 0; i < c.NumLayers; i++)
            Block(PtDitKeys.Block(i), X, B, g, temb6, ctx, L, beta, mode);

        // 8. final layer: correct per-sample mapping of temb.
        var so = W("scale_shift_table");
        var Z = LayerNorm(X, B * g.Tokens, D, 1e-6);
        for (int b = 0; b < B; b++)
            for (long s = 0; s < g.Tokens; s++)
                for (int d = 0; d < D; d++)
                {
                    long i = ((long)b * g.Tokens + s) * D + d;
                    Z[i] = Z[i] * (1 + so[D + d] + temb[b * D + d]) + so[d] + temb[b * D + d];
                }
        int K = p * p * c.OutChannels;
        var O = Linear(Z, B * g.Tokens, "proj_out");
        var output = new double[(long)B * c.OutChannels * F * Hl * Wl];
        for (int b = 0; b < B; b++)
            for (int f = 0; f < F; f++)
                for (int r = 0; r < g.H; r++)
                    for (int col = 0; col < g.W; col++)
                    {
                        long s = g.Seq(f, r, col);
                        for (int py = 0; py < p; py++)
                            for (int px = 0; px < p; px++)
                                for (int co = 0; co < c.OutChannels; co++)
                                    output[((((long)b * c.OutChannels + co) * F + f) * Hl + p * r + py) * Wl + p * col + px] =
                                        O[((long)b * g.Tokens + s) * K + (py * p + px) * c.OutChannels + co];
                    }
        return output;
    }

    /// <summary>docs/ptdit.md §7, one block, on X [B*P, N, D] in place.</summary>
    void Block(string k, double[] X, int B, Geometry g, double[] temb6, double[] ctx, int L, double[] beta, AttentionMode mode)
    {
        int D = _c.Dim, P = g.Windows, N = g.WindowTokens;
        long rows = (long)B * P;
        var table = W(k + "scale_shift_table");
        // Modulation vector j (0..5) for hidden-state row R: table[j] + T_j[R mod B] (docs/ptdit.md, quirk Q1).
        double Mod(double[] tab, int j, long R, int d) => tab[j * D + d] + temb6[(R % B) * 6 * D + j * D + d];

        if (mode == AttentionMode.Proxy)
        {
            // Step 1: proxy tokens (window means on the Q6 lattice) and proxy self-attention.
            var (sh, sw) = (_c.ProxyStride.H, _c.ProxyStride.W);
            int perWindow = sh * sw, proxies = P * perWindow;
            int cf = _c.Window.F, ch = _c.Window.H, cw = _c.Window.W;
            var Pr = new double[(long)B * proxies * D];
            int count = cf * (ch / sh) * (cw / sw);
            for (long R = 0; R < rows; R++)
                for (int n = 0; n < N; n++)
                {
                    int y = n / cw % ch, z = n % cw;
                    long proxy = R * perWindow + (y % sh) * sw + z % sw;   // y = a·sh + j, z = b·sw + k
                    for (int d = 0; d < D; d++) Pr[proxy * D + d] += X[(R * N + n) * D + d] / count;
                }
            var proxyOut = new double[Pr.Length];
            var lnPr = LayerNorm(Pr, B * proxies, D, _c.NormEps);
            for (int b = 0; b < B; b++)
                Attention(k + "proxy_attn1", lnPr, b * proxies, proxies, lnPr, b * proxies, proxies, null).CopyTo(proxyOut, (long)b * proxies * D);
            for (long i = 0; i < Pr.Length; i++) Pr[i] += proxyOut[i];

            // Step 2: every visual token of a sample queries the sample's proxies; injected through linear_1_visual, no gate.
            var lnX = LayerNorm(X, rows * N, D, _c.NormEps);
            lnPr = LayerNorm(Pr, B * proxies, D, _c.NormEps);
            var A = new double[X.Length];
            for (int b = 0; b < B; b++)
                Attention(k + "pvisual_attn2", lnX, b * g.Tokens, g.Tokens, lnPr, b * proxies, proxies, null).CopyTo(A, (long)b * g.Tokens * D);
            Add(X, Linear(A, rows * N, k + "linear_1_visual"));
        }

        // Step 3: window self-attention (global mode: over all tokens of a sample), adaLN-modulated and gated.
        {
            var Y = LayerNorm(X, rows * N, D, _c.NormEps);
            for (long R = 0; R < rows; R++)
                for (int n = 0; n < N; n++)
                    for (int d = 0; d < D; d++)
                        Y[(R * N + n) * D + d] = Y[(R * N + n) * D + d] * (1 + Mod(table, 1, R, d)) + Mod(table, 0, R, d);
            var A = new double[X.Length];
            if (mode == AttentionMode.Proxy)
                for (long R = 0; R < rows; R++)
                    Attention(k + "attn1", Y, (int)(R * N), N, Y, (int)(R * N), N, null).CopyTo(A, R * N * D);
            else
                for (int b = 0; b < B; b++)
                    Attention(k + "attn1", Y, b * g.Tokens, g.Tokens, Y, b * g.Tokens, g.Tokens, null).CopyTo(A, (long)b * g.Tokens * D);
            for (long R = 0; R < rows; R++)
                for (int n = 0; n < N; n++)
                    for (int d = 0; d < D; d++)
                        X[(R * N + n) * D + d] += Mod(table, 2, R, d) * A[(R * N + n) * D + d];
        }

        // Step 4: shifted-window self-attention; the gate multiplies before linear_2 (Q10).
        if (mode == AttentionMode.Proxy && _c.ShiftWindow)
        {
            var swTable = W(k + "proxy_scale_shift_table");
            double ModSw(int j, long R, int d) => swTable[j * D + d] + temb6[(R % B) * 6 * D + j * D + d];
            // Xs[b, rolled window p', n'] = X[b, source token]; rows of Xs are numbered in the rolled layout.
            var src = g.RolledSource();
            var Xs = new double[X.Length];
            for (int b = 0; b < B; b++)
                for (int s = 0; s < g.Tokens; s++)
                    Array.Copy(X, ((long)b * g.Tokens + src[s]) * D, Xs, ((long)b * g.Tokens + s) * D, D);
            var Ys = LayerNorm(Xs, rows * N, D, _c.NormEps);
            for (long R = 0; R < rows; R++)
                for (int n = 0; n < N; n++)
                    for (int d = 0; d < D; d++)
                        Ys[(R * N + n) * D + d] = Ys[(R * N + n) * D + d] * (1 + ModSw(1, R, d)) + ModSw(0, R, d);
            var labels = g.RolledRegionLabels();
            var As = new double[X.Length];
            for (long R = 0; R < rows; R++)
            {
                int window = (int)(R % P);
                int baseTok = window * N;
                Attention(k + "attn3", Ys, (int)(R * N), N, Ys, (int)(R * N), N,
                    (i, j) => labels[baseTok + i] == labels[baseTok + j] ? 0.0 : -10000.0).CopyTo(As, R * N * D);
            }
            // Inverse roll, gate (original row numbering), then linear_2.
            var G = new double[X.Length];
            for (int b = 0; b < B; b++)
                for (int s = 0; s < g.Tokens; s++)
                {
                    long R = ((long)b * g.Tokens + src[s]) / N;
                    for (int d = 0; d < D; d++)
                        G[((long)b * g.Tokens + src[s]) * D + d] = ModSw(2, R, d) * As[((long)b * g.Tokens + s) * D + d];
                }
            Add(X, Linear(G, rows * N, k + "linear_2"));
        }

        // Step 5: text cross-attention on the raw residual stream (no norm, no modulation).
        {
            var A = new double[X.Length];
            for (int b = 0; b < B; b++)
            {
                int bb = b;
                Attention(k + "attn2", X, b * g.Tokens, g.Tokens, ctx, b * L, L, (i, j) => beta[bb * L + j]).CopyTo(A, (long)b * g.Tokens * D);
            }
            Add(X, A);
        }

        // Step 6: feed-forward, adaLN-modulated and gated.
        {
            var Y = LayerNorm(X, rows * N, D, _c.NormEps);
            for (long R = 0; R < rows; R++)
                for (int n = 0; n < N; n++)
                    for (int d = 0; d < D; d++)
                        Y[(R * N + n) * D + d] = Y[(R * N + n) * D + d] * (1 + Mod(table, 4, R, d)) + Mod(table, 3, R, d);
            var H = Linear(GeluTanh(Linear(Y, rows * N, k + "ff.net.0.proj")), rows * N, k + "ff.net.2");
            for (long R = 0; R < rows; R++)
                for (int n = 0; n < N; n++)
                    for (int d = 0; d < D; d++)
                        X[(R * N + n) * D + d] += Mod(table, 5, R, d) * H[(R * N + n) * D + d];
        }
    }

    /// <summary>The grid and window arithmetic of sections 5–6 for one latent size.</summary>
    public sealed class Geometry
    {
        public readonly int F, H, W, Cf, Ch, Cw, Nf, Nh, Nw;
        readonly PtDitConfig _c;
        public Geometry(PtDitConfig c, int frames, int rows, int cols)
        {
            _c = c;
            (F, H, W) = (frames, rows, cols);
            (Cf, Ch, Cw) = c.Window;
            (Nf, Nh, Nw) = (F / Cf, H / Ch, W / Cw);
        }
        public int Windows => Nf * Nh * Nw;
        public int WindowTokens => Cf * Ch * Cw;
        public int Tokens => F * H * W;

        /// <summary>Sequence index s = window·N + in-window index of grid cell (f, r, c).</summary>
        public int Seq(int f, int r, int c)
        {
            int window = (f / Cf * Nh + r / Ch) * Nw + c / Cw;
            int n = (f % Cf * Ch + r % Ch) * Cw + c % Cw;
            return window * WindowTokens + n;
        }

        /// <summary>Grid cell (f, r, c) of sequence index s.</summary>
        public (int f, int r, int c) Cell(int s)
        {
            int window = s / WindowTokens, n = s % WindowTokens;
            int iw = window % Nw, ih = window / Nw % Nh, iF = window / Nw / Nh;
            int z = n % Cw, y = n / Cw % Ch, x = n / Cw / Ch;
            return (iF * Cf + x, ih * Ch + y, iw * Cw + z);
        }

        /// <summary>For rolled sequence index s' (rolled-window layout), the sequence index of the original token it holds:
        /// rolled cell (f', r', c') holds original cell ((f'+sf) mod F, (r'+sh) mod H, (c'+sw) mod W).</summary>
        public int[] RolledSource()
        {
            var src = new int[Tokens];
            for (int s = 0; s < Tokens; s++)
            {
                var (f, r, c) = Cell(s);
                src[s] = Seq((f + Cf / 2) % F, (r + Ch / 2) % H, (c + Cw / 2) % W);
            }
            return src;
        }

        /// <summary>Region label 9·ρf + 3·ρh + ρw of each rolled-layout token (docs/ptdit.md §6, quirk Q5).</summary>
        public int[] RolledRegionLabels()
        {
            static int Rho(int v, int size, int window)
            {
                int shift = window / 2;
                if (shift == 0) return 2;   // the slice [-0:] covers everything and is written last
                return v < size - window ? 0 : v < size - shift ? 1 : 2;
            }
            var labels = new int[Tokens];
            for (int s = 0; s < Tokens; s++)
            {
                var (f, r, c) = Cell(s);
                labels[s] = 9 * Rho(f, F, Cf) + 3 * Rho(r, H, Ch) + Rho(c, W, Cw);
            }
            return labels;
        }
    }

    /// <summary>
    /// Position table [F, h, w, D] (docs/ptdit.md §4.2, quirk Q2), rounded to float32. When the grid is the one the stored
    /// buffer was built for ((sample_size/p)², frame) and the weights hold pos_embed.pos_embed, the official code uses
    /// the stored buffer instead; so does this reference.
    /// </summary>
    public double[] PositionTable(int F, int h, int w)
    {
        int grid = _c.SampleSize / _c.PatchSize;
        if (h == grid && w == grid && F == _c.Frame && _weights.ContainsKey(PtDitKeys.PosEmbedBuffer))
            return W(PtDitKeys.PosEmbedBuffer);
        int D = _c.Dim;
        var table = new double[(long)F * h * w * D];
        for (int f = 0; f < F; f++)
            for (int r = 0; r < h; r++)
                for (int col = 0; col < w; col++)
                    PositionEmbedding(f, r, col, h, w, D, _c.PosInterpolationScale).CopyTo(table, (((long)f * h + r) * w + col) * D);
        return table;
    }

    /// <summary>The position embedding of token (f, r, c) of an h×w grid: [sc(D/8, f) | sc(3D/16, a) | sc(3D/16, q)],
    /// a = n mod h, q = floor(n / h), n = r·w + c; spatial positions divided by the interpolation scale in float32.</summary>
    public static double[] PositionEmbedding(int f, int r, int c, int h, int w, int D, int interpolationScale = 1)
    {
        var e = new double[D];
        int n = r * w + c;
        float a = (float)(n % h) / interpolationScale, q = (float)(n / h) / interpolationScale;
        SinCos(D / 8, f, e, 0);
        SinCos(3 * D / 16, a, e, D / 4);
        SinCos(3 * D / 16, q, e, D / 4 + 3 * D / 8);
        return e;

        static void SinCos(int K, double pos, double[] dst, int at)
        {
            for (int k = 0; k < K; k++)
            {
                double omega = 1.0 / Math.Pow(10000, k / (double)K);
                dst[at + k] = (float)Math.Sin(pos * omega);
                dst[at + K + k] = (float)Math.Cos(pos * omega);
            }
        }
    }

    /// <summary>diffusers Timesteps(256, flip_sin_to_cos=True, shift 0), computed in float32 as the official code does:
    /// [cos(t·f_k) | sin(t·f_k)], f_k = exp(−ln(10000)·k/128).</summary>
    public static double[] TimestepSinusoid(double t)
    {
        var e = new double[256];
        float tf = (float)t;
        for (int k = 0; k < 128; k++)
        {
            float exponent = (float)-Math.Log(10000) * k / 128f;
            float arg = tf * (float)Math.Exp(exponent);
            e[k] = (float)Math.Cos(arg);
            e[128 + k] = (float)Math.Sin(arg);
        }
        return e;
    }

    /// <summary>diffusers Attention on one sequence: queries rows [q0, q0+lq) of xq, keys/values rows [k0, k0+lk) of xkv.</summary>
    double[] Attention(string prefix, double[] xq, int q0, int lq, double[] xkv, int k0, int lk, Func<int, int, double>? bias)
    {
        int D = _c.Dim, heads = _c.NumHeads, dh = _c.HeadDim;
        var q = Linear(xq.AsSpan(q0 * D, lq * D), lq, prefix + ".to_q");
        var kk = Linear(xkv.AsSpan(k0 * D, lk * D), lk, prefix + ".to_k");
        var v = Linear(xkv.AsSpan(k0 * D, lk * D), lk, prefix + ".to_v");
        var o = new double[lq * D];
        var logits = new double[lk];
        double scale = 1 / Math.Sqrt(dh);
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < lq; i++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < lk; j++)
                {
                    double s = 0;
                    for (int d = 0; d < dh; d++) s += q[i * D + h * dh + d] * kk[j * D + h * dh + d];
                    // Rounded as the official float32 run rounds it: with a −10000 bias on every key (a fully masked
                    // text row, Q7) the float32 spacing near −10000 (~0.001) changes the softmax by ~1e-4.
                    logits[j] = (float)((float)(s * scale) + (bias?.Invoke(i, j) ?? 0));
                    max = Math.Max(max, logits[j]);
                }
                double sum = 0;
                for (int j = 0; j < lk; j++) sum += logits[j] = Math.Exp(logits[j] - max);
                for (int j = 0; j < lk; j++)
                {
                    double pj = logits[j] / sum;
                    for (int d = 0; d < dh; d++) o[i * D + h * dh + d] += pj * v[j * D + h * dh + d];
                }
            }
        return Linear(o, lq, prefix + ".to_out.0");
    }

    /// <summary>x Wᵀ + b for rows of x; the bias is optional (attention_bias = false).</summary>
    double[] Linear(ReadOnlySpan<double> x, long rows, string name)
    {
        var w = W(name + ".weight");
        var bias = WOrNull(name + ".bias");
        var shape = _weights[name + ".weight"].Shape;
        int outF = (int)shape[0], inF = (int)shape[1];
        if (x.Length != rows * inF) throw new ArgumentException($"reference: {name} expects {inF} inputs per row");
        var y = new double[rows * outF];
        for (long r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double s = bias?[o] ?? 0;
                for (int i = 0; i < inF; i++) s += x[(int)(r * inF + i)] * w[(long)o * inF + i];
                y[r * outF + o] = s;
            }
        return y;
    }

    static double[] LayerNorm(double[] x, long rows, int D, double eps) => KernelTable.LayerNormReference(x, rows, D, eps, null, null, 1, 1);

    static double[] Silu(double[] x) => Array.ConvertAll(x, v => v / (1 + Math.Exp(-v)));

    static double[] GeluTanh(double[] x) =>
        Array.ConvertAll(x, v => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))));

    static void Add(double[] x, double[] y)
    {
        for (long i = 0; i < x.Length; i++) x[i] += y[i];
    }
}
