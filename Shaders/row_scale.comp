#version 450
// y[m, :] = x[m, :] * g[(m / rowDiv) % groups, :]: a per-sample (or per-window) channel gate, e.g. the
// shifted-window gate applied before linear_2 (docs/ptdit.md, quirk Q10). One workgroup per row, so the gate row
// is computed once per row (integer division is slow on lavapipe, docs/lavapipe.md §3); inputs are read as vec4 texels.
// A dispatch may cover a chunk of the rows starting at row0.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer x;
layout(binding = 1, rgba32f) uniform readonly imageBuffer g;
layout(std430, binding = 2) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P { uint rows; uint d4; uint rowDiv; uint groups; uint row0; } pc;

void main() {
    uint m = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (m >= pc.rows) return;
    uint base = m * pc.d4, gate = (((pc.row0 + m) / pc.rowDiv) % pc.groups) * pc.d4;
    for (uint c = gl_LocalInvocationID.x; c < pc.d4; c += gl_WorkGroupSize.x)
        y[base + c] = imageLoad(x, int(base + c)) * imageLoad(g, int(gate + c));
}
