#version 450
// Proxy tokens: means over a window's tokens. x is [windows, N, D] with N = cf*ch*cw tokens in
// (frame, row, col) order; each window has sh*sw proxies (sh = ch/pch, sw = cw/pcw). Proxy (j, k)
// averages the strided lattice of in-window rows y = a*sh + j and columns z = b*sw + k (a < pch,
// b < pcw, every frame), as the official code does (docs/ptdit.md, quirk Q6); with pch = ch, pcw = cw it is
// the plain window mean. Output [windows * sh * sw, D] in (window, j, k) order. One invocation per
// output vec4; x is read as vec4 texels (the cheap load on lavapipe, docs/lavapipe.md §1), so D is a multiple of 4.
#include "common.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(binding = 0, rgba32f) uniform readonly imageBuffer x;
layout(std430, binding = 1) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P { uint windows; uint d4; uint cf; uint ch; uint cw; uint sh; uint sw; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint proxies = pc.sh * pc.sw;
    if (i >= pc.windows * proxies * pc.d4) return;
    uint c = i % pc.d4, proxy = i / pc.d4;
    uint win = proxy / proxies, j = (proxy % proxies) / pc.sw, k = proxy % pc.sw;
    uint pch = pc.ch / pc.sh, pcw = pc.cw / pc.sw;
    uint window_base = win * pc.cf * pc.ch * pc.cw;
    vec4 s = vec4(0.0);
    for (uint f = 0u; f < pc.cf; f++)
        for (uint a = 0u; a < pch; a++)
            for (uint b = 0u; b < pcw; b++) {
                uint n = (f * pc.ch + a * pc.sh + j) * pc.cw + b * pc.sw + k;
                s += imageLoad(x, int((window_base + n) * pc.d4 + c));
            }
    y[i] = s / float(pc.cf * pch * pcw);
}
