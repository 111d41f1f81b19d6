#version 450
// In-place row softmax with a logit scale: x[r, :] = softmax(scale · x[r, :]). One workgroup per row.
#extension GL_KHR_shader_subgroup_arithmetic : require
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(std430, binding = 0) buffer X { float x[]; };
layout(push_constant) uniform P { uint rows; uint n; float scale; } pc;
shared float partial[gl_WorkGroupSize.x];
#include "reduce.glsl"

float workgroup_max(float v) {
    v = subgroupMax(v);
    if (subgroupElect()) partial[gl_SubgroupID] = v;
    barrier();
    float m = partial[0];
    for (uint i = 1u; i < gl_NumSubgroups; i++) m = max(m, partial[i]);
    barrier();
    return m;
}

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= pc.rows) return;   // uniform per workgroup
    uint base = row * pc.n, lane = gl_LocalInvocationID.x;
    float m = -3.402823e38;
    for (uint i = lane; i < pc.n; i += gl_WorkGroupSize.x) m = max(m, x[base + i] * pc.scale);
    m = workgroup_max(m);
    float s = 0.0;
    for (uint i = lane; i < pc.n; i += gl_WorkGroupSize.x) { float e = exp(x[base + i] * pc.scale - m); x[base + i] = e; s += e; }
    float inv = 1.0 / workgroup_sum(s);
    for (uint i = lane; i < pc.n; i += gl_WorkGroupSize.x) x[base + i] *= inv;
}
