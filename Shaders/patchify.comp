#version 450
// Latents [B, C, F, H, W] -> patch rows [B*P*N, C*p*p] in window-major token order (docs/ptdit.md §4.1, §5):
// row = (b*P + win)*N + n, win = (i_f*nh + i_h)*nw + i_w, n = (x*ch + y)*cw + z, token grid
// position (f, r, c) = (i_f*cf + x, i_h*ch + y, i_w*cw + z); column (ci, ky, kx) holds
// latents[b, ci, f, p*r + ky, p*c + kx], the flattening of a conv weight [D, C, p, p]. The patch
// embedding is then a GEMM with that weight viewed as [D, C*p*p].
#include "common.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(std430, binding = 0) readonly buffer L { float lat[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint b; uint c; uint f; uint h; uint w; uint p; uint cf; uint ch; uint cw; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint cols = pc.c * pc.p * pc.p;
    uint th = pc.h / pc.p, tw = pc.w / pc.p;            // token rows and columns
    uint nh = th / pc.ch, nw = tw / pc.cw, nf = pc.f / pc.cf;
    uint n_win = pc.cf * pc.ch * pc.cw, windows = nf * nh * nw;
    if (i >= pc.b * windows * n_win * cols) return;
    uint col = i % cols, row = i / cols;
    uint kx = col % pc.p, ky = (col / pc.p) % pc.p, ci = col / (pc.p * pc.p);
    uint n = row % n_win, win = (row / n_win) % windows, b = row / (n_win * windows);
    uint z = n % pc.cw, yy = (n / pc.cw) % pc.ch, x = n / (pc.cw * pc.ch);
    uint iw = win % nw, ih = (win / nw) % nh, i_f = win / (nw * nh);
    uint f = i_f * pc.cf + x, r = ih * pc.ch + yy, c = iw * pc.cw + z;
    y[i] = lat[(((b * pc.c + ci) * pc.f + f) * pc.h + pc.p * r + ky) * pc.w + pc.p * c + kx];
}
