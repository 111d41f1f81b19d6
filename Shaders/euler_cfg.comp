#version 450
// Rectified-flow Euler step with classifier-free guidance (docs/ptdit.md §10.5):
//   z += dt * (u + s[b] * (c - u)),  c = out[b, ci], u = out[B + b, ci]  (conditional half first)
// z is [B, C, S] (S = F*H*W), out is [2B, Cout, S] of which the first C channels are used.
// dt is read from a device buffer so a recorded step can be resubmitted with only that value changed; the guidance
// scale s is one value per sample (a batch of different requests may each have their own).
#include "common.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(std430, binding = 0) readonly buffer O { float o[]; };
layout(std430, binding = 1) readonly buffer Dt { float dt[]; };
layout(std430, binding = 2) readonly buffer S { float scale[]; };
layout(std430, binding = 3) buffer Z { float z[]; };
layout(push_constant) uniform P { uint b; uint c; uint cout_; uint s; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (i >= pc.b * pc.c * pc.s) return;
    uint sp = i % pc.s, ci = (i / pc.s) % pc.c, b = i / (pc.s * pc.c);
    float cond = o[(b * pc.cout_ + ci) * pc.s + sp];
    float unc = o[((pc.b + b) * pc.cout_ + ci) * pc.s + sp];
    z[i] += dt[0] * (unc + scale[b] * (cond - unc));
}
