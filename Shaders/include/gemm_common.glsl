// Shared by gemm_texel.comp (CPU devices) and gemm_tiled.comp (GPUs): the push constants, the epilogue
// bindings and the epilogue itself, so both variants compute exactly the same thing.
//   y[m, n] = residual[m, n] + g[m, n] * act(acc[m, n] + bias[n])    (residual part only when enabled)
//   g[m, n] = gate[((m0 + m) / gate_div) % gate_rows, n0 + n]         (1 when there is no gate)
// One dispatch covers a chunk of rows [m0, m0 + M) and columns [n0, n0 + N); every *_off is the element
// offset of the chunk's first element inside its binding (bindings start at aligned offsets).
#include "common.glsl"

#define EPI_NONE 0
#define EPI_GELU 1
#define EPI_SILU 2

layout(push_constant) uniform GemmParams {
    uint M, N, K;         // this chunk: rows, columns, reduction length
    uint ldy;             // row stride of y and residual (the full N)
    uint m0, n0;          // the chunk's first row and column in the whole problem (gate indexing)
    uint x_off, w_off;    // X, W offsets (texel units in the texel variant, elements in the tiled one)
    uint y_off, r_off, b_off, g_off;
    uint gate_div, gate_rows;
    uint flags;           // bit 0 bias, bit 1 residual, bit 2 gate; bits 8..15 epilogue; bits 16..23 bias dtype
} pc;

layout(std430, binding = 2) readonly buffer BiasF32 { float bias_f32[]; };
layout(std430, binding = 2) readonly buffer BiasU16 { uint16_t bias_u16[]; };
layout(std430, binding = 3) readonly buffer Residual { float residual[]; };
layout(std430, binding = 4) readonly buffer Gate { float gate[]; };
layout(std430, binding = 5) buffer Y { float y[]; };

float load_bias(uint n) {
    uint dtype = (pc.flags >> 16) & 0xffu;
    uint i = pc.b_off + n;
    if (dtype == DT_F32) return bias_f32[i];
    uint bits = uint(bias_u16[i]);
    return dtype == DT_F16 ? unpackHalf2x16(bits).x : bf16_to_f32(bits);
}

// Writes one output element; (m, n) are chunk-local and may lie outside the chunk (then nothing happens).
void gemm_store(uint m, uint n, float acc) {
    if (m >= pc.M || n >= pc.N) return;
    float v = acc;
    if ((pc.flags & 1u) != 0u) v += load_bias(n);
    uint epi = (pc.flags >> 8) & 0xffu;
    if (epi == EPI_GELU) v = gelu_tanh(v);
    else if (epi == EPI_SILU) v = silu(v);
    uint yi = m * pc.ldy + n;
    if ((pc.flags & 2u) != 0u) {
        float g = 1.0;
        if ((pc.flags & 4u) != 0u)
            g = gate[pc.g_off + (((pc.m0 + m) / pc.gate_div) % pc.gate_rows) * pc.ldy + pc.n0 + n];
        // residual may alias y (in-place X += ...): this invocation reads the element before it writes it.
        v = residual[pc.r_off + yi] + g * v;
    }
    y[pc.y_off + yi] = v;
}
