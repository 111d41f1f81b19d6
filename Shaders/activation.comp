#version 450
// y = act(x) elementwise; the activation is a specialization constant (ACT_GELU_TANH, ACT_SILU).
#include "common.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(constant_id = 1) const int ACT = ACT_GELU_TANH;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (i >= pc.n) return;
    float v = x[i];
    y[i] = ACT == ACT_SILU ? silu(v) : gelu_tanh(v);
}
