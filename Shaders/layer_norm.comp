#version 450
// LayerNorm over the last axis without affine parameters, optionally fused with adaLN modulation:
//   y[m, :] = (x[m, :] - mean) / sqrt(var + eps)                       (MODULATE = false)
//   y[m, :] = LN(x[m, :]) * (1 + scale[g, :]) + shift[g, :],  g = (m / rowDiv) % groups
// One workgroup per row; two passes over the row (mean, then the centred variance) keep fp32 accurate.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool MODULATE = false;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Shift { float shift[]; };
layout(std430, binding = 2) readonly buffer Scale { float scale[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint rows; uint d; float eps; uint rowDiv; uint groups; } pc;
shared float partial[gl_WorkGroupSize.x];
#include "reduce.glsl"

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= pc.rows) return; // uniform per workgroup, so barriers stay safe
    uint base = row * pc.d, lane = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;

    float s = 0.0;
    for (uint i = lane; i < pc.d; i += n) s += x[base + i];
    float mean = workgroup_sum(s) / float(pc.d);

    float v = 0.0;
    for (uint i = lane; i < pc.d; i += n) { float c = x[base + i] - mean; v += c * c; }
    float rstd = inversesqrt(workgroup_sum(v) / float(pc.d) + pc.eps);

    uint mod_row = MODULATE ? ((row / pc.rowDiv) % pc.groups) * pc.d : 0u;
    for (uint i = lane; i < pc.d; i += n) {
        float h = (x[base + i] - mean) * rstd;
        if (MODULATE) h = h * (1.0 + scale[mod_row + i]) + shift[mod_row + i];
        y[base + i] = h;
    }
}
