#version 450
// GroupNorm over channel-last x [B, P, C] (P = all frames × rows × cols): for sample b and group g of C/G contiguous
// channels, mean and biased variance over P × C/G values, y = (x - mean) / sqrt(var + eps) · gamma[c] + beta[c],
// optionally followed by SiLU. One workgroup per (group, sample); two passes (mean, then the centred variance).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const bool SILU = false;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Gamma { float gamma[]; };
layout(std430, binding = 2) readonly buffer Beta { float beta[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint positions; uint channels; uint per_group; float eps; } pc;
shared float partial[gl_WorkGroupSize.x];
#include "reduce.glsl"

void main() {
    uint g = gl_WorkGroupID.x, b = gl_WorkGroupID.y, lane = gl_LocalInvocationID.x;
    uint n = pc.positions * pc.per_group;
    uint base = b * pc.positions * pc.channels + g * pc.per_group;
    // element e of the group: position e / per_group, channel g·per_group + e % per_group
    float s = 0.0;
    for (uint e = lane; e < n; e += 256u) s += x[base + (e / pc.per_group) * pc.channels + e % pc.per_group];
    float mean = workgroup_sum(s) / float(n);
    float v = 0.0;
    for (uint e = lane; e < n; e += 256u) { float d = x[base + (e / pc.per_group) * pc.channels + e % pc.per_group] - mean; v += d * d; }
    float rstd = 1.0 / sqrt(workgroup_sum(v) / float(n) + pc.eps);
    for (uint e = lane; e < n; e += 256u) {
        uint c = e % pc.per_group, at = base + (e / pc.per_group) * pc.channels + c;
        float h = (x[at] - mean) * rstd * gamma[g * pc.per_group + c] + beta[g * pc.per_group + c];
        y[at] = SILU ? silu(h) : h;
    }
}
