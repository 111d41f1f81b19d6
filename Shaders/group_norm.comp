#version 450
// GroupNorm over channel-last x [B, P, C] (P = all frames × rows × cols): for sample b and group g of C/G contiguous
// channels, mean and biased variance over P × C/G values, y = (x - mean) / sqrt(var + eps) · gamma[c] + beta[c],
// optionally followed by SiLU. One workgroup per (group, sample); two passes (mean, then the centred variance).
// x is read through an RGBA32F texel view (4 channels per load; a texel may straddle two groups, so each load is
// masked to the group's channels), which escapes maxStorageBufferRange. y may not fit one binding: each dispatch
// writes the rows [row0, row0 + rows) of the flattened [B·P] rows; its workgroups still see all of x for the statistics.
#include "common.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(constant_id = 1) const bool SILU = false;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(std430, binding = 1) readonly buffer Gamma { float gamma[]; };
layout(std430, binding = 2) readonly buffer Beta { float beta[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint positions; uint channels; uint per_group; float eps; uint row0, rows; } pc;
shared float partial[gl_WorkGroupSize.x];
#include "reduce.glsl"

void main() {
    uint g = gl_WorkGroupID.x, b = gl_WorkGroupID.y, lane = gl_LocalInvocationID.x;
    uint first = max(pc.row0, b * pc.positions), last = min(pc.row0 + pc.rows, (b + 1u) * pc.positions);
    if (first >= last) return;   // this sample has no rows in this dispatch (uniform per workgroup)
    uint c0 = g * pc.per_group, c4 = pc.channels / 4u;
    uint t0 = c0 / 4u, per_pos = (c0 + pc.per_group + 3u) / 4u - t0;   // texels of the group at one position
    uint base = b * pc.positions * c4 + t0, n = pc.positions * per_pos;
    // texel t0 + k covers channels 4(t0 + k) .. +3; keep those in [c0, c0 + per_group)
    float s = 0.0;
    for (uint e = lane; e < n; e += gl_WorkGroupSize.x) {
        uint k = e % per_pos;
        vec4 ch = vec4(4u * (t0 + k)) + vec4(0.0, 1.0, 2.0, 3.0);
        vec4 keep = step(float(c0), ch) * (1.0 - step(float(c0 + pc.per_group), ch));
        s += dot(imageLoad(X, int(base + (e / per_pos) * c4 + k)), keep);
    }
    float mean = workgroup_sum(s) / float(pc.positions * pc.per_group);
    float v = 0.0;
    for (uint e = lane; e < n; e += gl_WorkGroupSize.x) {
        uint k = e % per_pos;
        vec4 ch = vec4(4u * (t0 + k)) + vec4(0.0, 1.0, 2.0, 3.0);
        vec4 keep = step(float(c0), ch) * (1.0 - step(float(c0 + pc.per_group), ch));
        vec4 d = (imageLoad(X, int(base + (e / per_pos) * c4 + k)) - mean) * keep;
        v += dot(d, d);
    }
    float rstd = 1.0 / sqrt(workgroup_sum(v) / float(pc.positions * pc.per_group) + pc.eps);
    uint count = (last - first) * pc.per_group;
    for (uint e = lane; e < count; e += gl_WorkGroupSize.x) {
        uint row = first + e / pc.per_group, c = c0 + e % pc.per_group;
        float xv = imageLoad(X, int(row * c4 + c / 4u))[c % 4u];
        float h = (xv - mean) * rstd * gamma[c] + beta[c];
        y[(row - pc.row0) * pc.channels + c] = SILU ? silu(h) : h;
    }
}
