#version 450
// y[m, :] = x[m, :] * g[(m / rowDiv) % groups, :]: a per-sample (or per-window) channel gate, e.g. the
// shifted-window gate applied before linear_2 (spec quirk Q10). Inputs are read as vec4 texels; the grid
// is (vec4 column, row) so no per-element division is needed (integer division is slow on lavapipe).
// A dispatch may cover a chunk of the rows starting at row0.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0, rgba32f) uniform readonly imageBuffer x;
layout(binding = 1, rgba32f) uniform readonly imageBuffer g;
layout(std430, binding = 2) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P { uint rows; uint d4; uint rowDiv; uint groups; uint row0; } pc;

void main() {
    uint c = gl_GlobalInvocationID.x, m = gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y;
    if (c >= pc.d4 || m >= pc.rows) return;
    uint i = m * pc.d4 + c;
    y[i] = imageLoad(x, int(i)) * imageLoad(g, int((((pc.row0 + m) / pc.rowDiv) % pc.groups) * pc.d4 + c));
}
