#version 450
// y[i] = a[i] + b[i mod nb]: adds one table (e.g. the position table [P*N, D]) to every sample.
// Inputs are read as vec4 texels; the grid is (vec4 index in b, repeat) so no division is needed.
#include "common.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(binding = 0, rgba32f) uniform readonly imageBuffer a;
layout(binding = 1, rgba32f) uniform readonly imageBuffer b;
layout(std430, binding = 2) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P { uint nb4; uint repeats; } pc;

void main() {
    uint j = gl_GlobalInvocationID.x, r = gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y;
    if (j >= pc.nb4 || r >= pc.repeats) return;
    uint i = r * pc.nb4 + j;
    y[i] = imageLoad(a, int(i)) + imageLoad(b, int(j));
}
