// Shared by gemm_texel.comp (CPU devices) and gemm_tiled.comp (GPUs): the push constants, the epilogue
// bindings and the epilogue itself, so both variants compute exactly the same thing.
//   y[m, n] = residual[m, n] + g[m, n] * act(acc[m, n] + bias[n])    (residual and gate each only when enabled)
//   g[m, n] = gate[((m0 + m) / gate_div) % gate_rows, n0 + n]         (1 when there is no gate)
// One dispatch covers a chunk of rows [m0, m0 + M) and columns [n0, n0 + N); every *_off is the element
// offset of the chunk's first element inside its binding (bindings start at aligned offsets).
#include "common.glsl"

layout(push_constant) uniform GemmParams {
    uint M, N, K;         // this chunk: rows, columns, reduction length
    uint ldy;             // row stride of y and residual (the full N)
    uint m0, n0;          // the chunk's first row and column in the whole problem (gate indexing)
    uint x_off, w_off;    // X, W offsets (texel units in the texel variant, elements in the tiled one)
    uint y_off, r_off, b_off, g_off;
    uint gate_div, gate_rows;
    uint flags;           // bit 0 bias, bit 1 residual, bit 2 gate; bits 8..15 epilogue; bits 16..23 bias dtype
    // Implicit-GEMM convolution (the shaders' CONV constant): row m0 + m is output position (b, t, i, j) of a
    // channel-last volume [B, T, H, W, Cin] bound whole as X, and k = ((dt·kh + di)·kw + dj)·Cin + ci, so
    //   x[m, k] = X[b, max(t + dt − (kt − 1), 0), i + di − pad, j + dj − pad, ci]   (0 outside the rows and columns)
    // which is Open-Sora-Plan's CausalConv3d: time padding replicates frame 0, space pads with zeros.
    uint conv_t, conv_h, conv_w, conv_cin, conv_kt, conv_kh, conv_kw, conv_pad;
} pc;

// The source position of output row m (whole-problem index) for kernel tap (dt, di, dj): its element offset
// / Cin in X, or -1 where the tap falls into the zero padding.
int conv_source(uint m, uint dt, uint di, uint dj) {
    uint j = m % pc.conv_w, r = m / pc.conv_w;
    uint i = r % pc.conv_h; r /= pc.conv_h;
    uint t = r % pc.conv_t, first_frame = r - t;   // first_frame = b·T
    int ts = max(int(t + dt) - int(pc.conv_kt - 1u), 0);
    int ii = int(i + di) - int(pc.conv_pad), jj = int(j + dj) - int(pc.conv_pad);
    if (ii < 0 || ii >= int(pc.conv_h) || jj < 0 || jj >= int(pc.conv_w)) return -1;
    return ((int(first_frame) + ts) * int(pc.conv_h) + ii) * int(pc.conv_w) + jj;
}

layout(std430, binding = 2) readonly buffer BiasF32 { float bias_f32[]; };
layout(std430, binding = 2) readonly buffer BiasU16 { uint16_t bias_u16[]; };
// The texel variant reads the residual and the gate through R32F texel views: on lavapipe a storage-buffer load at a
// different address per lane is a loop over the lanes, a texel load one gather (docs/lavapipe.md §1).
#ifdef GEMM_TEXEL_EPILOGUE
layout(binding = 3, r32f) readonly uniform imageBuffer residual_view;
layout(binding = 4, r32f) readonly uniform imageBuffer gate_view;
float load_residual(uint i) { return imageLoad(residual_view, int(i)).x; }
float load_gate(uint i) { return imageLoad(gate_view, int(i)).x; }
#else
layout(std430, binding = 3) readonly buffer Residual { float residual[]; };
layout(std430, binding = 4) readonly buffer Gate { float gate[]; };
float load_residual(uint i) { return residual[i]; }
float load_gate(uint i) { return gate[i]; }
#endif
layout(std430, binding = 5) buffer Y { float y[]; };

// The bias of column n (0 without a bias); n past the chunk reads the last column (its output is not stored).
float gemm_bias(uint n) {
    if ((pc.flags & 1u) == 0u) return 0.0;
    uint dtype = (pc.flags >> 16) & 0xffu;
    uint i = pc.b_off + min(n, pc.N - 1u);
    if (dtype == DT_F32) return bias_f32[i];
    uint bits = uint(bias_u16[i]);
    return dtype == DT_F16 ? unpackHalf2x16(bits).x : bf16_to_f32(bits);
}

// Writes one output element from its biased sum v = acc + bias; (m, n) are chunk-local and may lie outside the chunk
// (then nothing happens). The texel variant adds each lane's bias once per column, not once per output.
void gemm_store_biased(uint m, uint n, float v) {
    if (m >= pc.M || n >= pc.N) return;
    uint epi = (pc.flags >> 8) & 0xffu;
    if (epi == EPI_GELU) v = gelu_tanh(v);
    else if (epi == EPI_SILU) v = silu(v);
    uint yi = m * pc.ldy + n;
    float g = 1.0;
    if ((pc.flags & 4u) != 0u)
        g = load_gate(pc.g_off + (((pc.m0 + m) / pc.gate_div) % pc.gate_rows) * pc.ldy + pc.n0 + n);
    // residual may alias y (in-place X += ...): this invocation reads the element before it writes it.
    if ((pc.flags & 2u) != 0u) v = load_residual(pc.r_off + yi) + g * v;
    else v = g * v;
    y[pc.y_off + yi] = v;
}

void gemm_store(uint m, uint n, float acc) { gemm_store_biased(m, n, acc + gemm_bias(n)); }
