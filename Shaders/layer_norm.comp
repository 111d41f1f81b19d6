#version 450
// LayerNorm over the last axis without affine parameters, optionally fused with adaLN modulation:
//   y[m, :] = (x[m, :] - mean) / sqrt(var + eps)                       (MODULATE = false)
//   y[m, :] = LN(x[m, :]) * (1 + scale[g, :]) + shift[g, :],  g = (m / rowDiv) % groups
// One workgroup per row; two passes over the row (mean, then the centred variance) keep fp32 accurate.
// Inputs are read as vec4 texels (the cheap load on lavapipe, docs/lavapipe.md §1), so D is a multiple of 4. A dispatch may
// cover a chunk of the rows starting at row0 (for the modulation mapping).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool MODULATE = false;
layout(binding = 0, rgba32f) uniform readonly imageBuffer x;
layout(binding = 1, rgba32f) uniform readonly imageBuffer shift;
layout(binding = 2, rgba32f) uniform readonly imageBuffer scale;
layout(std430, binding = 3) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P { uint rows; uint d; float eps; uint rowDiv; uint groups; uint row0; } pc;
shared float partial[gl_WorkGroupSize.x];
#include "reduce.glsl"

float hsum(vec4 v) { return (v.x + v.y) + (v.z + v.w); }

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= pc.rows) return; // uniform per workgroup, so barriers stay safe
    uint d4 = pc.d / 4u, base = row * d4, lane = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;

    vec4 s = vec4(0.0);
    for (uint i = lane; i < d4; i += n) s += imageLoad(x, int(base + i));
    float mean = workgroup_sum(hsum(s)) / float(pc.d);

    vec4 v = vec4(0.0);
    for (uint i = lane; i < d4; i += n) { vec4 c = imageLoad(x, int(base + i)) - mean; v += c * c; }
    float rstd = inversesqrt(workgroup_sum(hsum(v)) / float(pc.d) + pc.eps);

    int mod_row = MODULATE ? int((((pc.row0 + row) / pc.rowDiv) % pc.groups) * d4) : 0;
    for (uint i = lane; i < d4; i += n) {
        vec4 h = (imageLoad(x, int(base + i)) - mean) * rstd;
        if (MODULATE) h = h * (1.0 + imageLoad(scale, mod_row + int(i))) + imageLoad(shift, mod_row + int(i));
        y[base + i] = h;
    }
}
