#version 450
// Model output rows [B, P*N, p*p*C] (window-major tokens, docs/ptdit.md §5) -> [B, C, F, H, W] (§8):
// out[b, co, f, p*r + py, p*c + px] = o[b, s, (py*p + px)*C + co], s = win*N + n the token at
// grid position (f, r, c). One invocation per output element, so writes are contiguous.
#include "common.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(std430, binding = 0) readonly buffer O { float o[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint b; uint c; uint f; uint h; uint w; uint p; uint cf; uint ch; uint cw; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (i >= pc.b * pc.c * pc.f * pc.h * pc.w) return;
    uint xx = i % pc.w, yy = (i / pc.w) % pc.h, f = (i / (pc.w * pc.h)) % pc.f;
    uint co = (i / (pc.w * pc.h * pc.f)) % pc.c, b = i / (pc.w * pc.h * pc.f * pc.c);
    uint r = yy / pc.p, py = yy % pc.p, c = xx / pc.p, px = xx % pc.p;
    uint th = pc.h / pc.p, tw = pc.w / pc.p;
    uint nh = th / pc.ch, nw = tw / pc.cw, nf = pc.f / pc.cf;
    uint win = ((f / pc.cf) * nh + r / pc.ch) * nw + c / pc.cw;
    uint n = ((f % pc.cf) * pc.ch + r % pc.ch) * pc.cw + c % pc.cw;
    uint s = (b * nf * nh * nw + win) * (pc.cf * pc.ch * pc.cw) + n;
    y[i] = o[s * (pc.p * pc.p * pc.c) + (py * pc.p + px) * pc.c + co];
}
