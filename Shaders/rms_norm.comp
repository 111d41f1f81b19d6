#version 450
// T5 RMSNorm over the last axis: y = w * (x * rsqrt(mean(x^2) + eps)), statistics in fp32.
// HALF_MODEL reproduces transformers' T5LayerNorm for a model whose weight IS f16/bf16: the normalised
// value is rounded to the weight dtype, and the product is computed in that dtype (rounded again).
// Without it the weight is only widened (the official T5 run: f16 files loaded as f32, all maths f32).
// One workgroup per row.
#include "common.glsl"
#include "dtype.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int DT = DT_F32;
layout(constant_id = 2) const bool HALF_MODEL = false;
layout(std430, binding = 0) readonly buffer X { float x[]; };
WEIGHT_BUFFER(1, w)
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint rows; uint d; float eps; } pc;
shared float partial[gl_WorkGroupSize.x];
#include "reduce.glsl"

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= pc.rows) return;
    uint base = row * pc.d, lane = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;

    float s = 0.0;
    for (uint i = lane; i < pc.d; i += n) { float v = x[base + i]; s += v * v; }
    float r = inversesqrt(workgroup_sum(s) / float(pc.d) + pc.eps);

    for (uint i = lane; i < pc.d; i += n) {
        float h = x[base + i] * r;
        float wi = WEIGHT_AT(w, i);
        y[base + i] = HALF_MODEL ? round_to(wi * round_to(h, DT), DT) : wi * h;
    }
}
