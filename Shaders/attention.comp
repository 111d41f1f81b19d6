#version 450
// Dense multi-head attention: O[b, i, head] = softmax_j(scale·q·k + mask bias + bias)·V over all Nk keys of batch
// element b. Q, K, V are column slices of [B, N, C] tensors (so they can share one fused QKV projection output):
// head h of row n starts at texel base + n·stride + h·D4. The core (online softmax, variants) is attention_core.glsl.
#include "attention_core.glsl"   // main(); this file supplies the hooks it declares
layout(constant_id = 5) const bool HAS_MASK = false;   // per-key mask [B, Nk]: -10000·(1 - m)
layout(constant_id = 6) const bool HAS_BIAS = false;   // additive bias [Hb, Nq, Nk], Hb = 1 or heads

layout(std430, binding = 4) readonly buffer Mask { float mask[]; };
layout(std430, binding = 5) readonly buffer Bias { float bias[]; };
layout(push_constant) uniform P {
    uint nq, nk;
    int q_base, q_stride, k_base, k_stride, v_base, v_stride;   // texels
    uint o_stride;                                              // vec4s per output row
    uint bias_heads;
    float scale;
} pc;

uint query_count() { return pc.nq; }
uint key_count() { return pc.nk; }
float logit_scale() { return pc.scale; }
void begin_item() {}
int q_texel(uint i) { return pc.q_base + int(g_item * pc.nq + i) * pc.q_stride + int(g_head * D4); }
int k_texel(uint j) { return pc.k_base + int(g_item * pc.nk + j) * pc.k_stride + int(g_head * D4); }
int v_texel(uint j) { return pc.v_base + int(g_item * pc.nk + j) * pc.v_stride + int(g_head * D4); }
uint o_vec4(uint i) { return (g_item * pc.nq + i) * pc.o_stride + g_head * D4; }
float key_bias(uint j) { return HAS_MASK ? MASK_BIAS * (1.0 - mask[g_item * pc.nk + j]) : 0.0; }
float pair_bias(uint i, uint j) {
    if (!HAS_BIAS) return 0.0;
    const uint h = pc.bias_heads == 1 ? 0 : g_head;
    return bias[(h * pc.nq + i) * pc.nk + j];
}
uint region(uint t) { return 0; }

