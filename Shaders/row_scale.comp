#version 450
// y[m, :] = x[m, :] * g[(m / rowDiv) % groups, :]: a per-sample (or per-window) channel gate, e.g.
// the shifted-window gate applied before linear_2 (spec quirk Q10).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint rows; uint d; uint rowDiv; uint groups; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
    if (i >= pc.rows * pc.d) return;
    uint m = i / pc.d, c = i % pc.d;
    y[i] = x[i] * g[((m / pc.rowDiv) % pc.groups) * pc.d + c];
}
