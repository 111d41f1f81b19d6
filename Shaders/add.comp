#version 450
// y = a + alpha * b, elementwise over n floats (residual additions).
#include "common.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float alpha; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (i < pc.n) y[i] = a[i] + pc.alpha * b[i];
}
