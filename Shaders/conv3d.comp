#version 450
// Causal 3-D convolution (Open-Sora-Plan CausalConv3d) as an implicit GEMM, one invocation per output position and
// group of 4 output channels:
//   y[b, t, i, j, co] = bias[co] + Σ_{dt, di, dj, ci} w[dt, di, dj, ci, co] · x[b, max(t + dt - (kt-1), 0), i + di - p, j + dj - p, ci]
// Time padding replicates frame 0 (the max), space pads with zeros. x and y are addressed through element strides,
// so either may be channel-last [B, T, H, W, C] (the decoder's layout) or channel-first [B, C, T, H, W] (latents in,
// samples out). Weights are [kt, kh, kw, Cin, Cout4] with Cout padded to a multiple of 4 (vec4 loads over co).
// DIVIDE: x is divided by in_div on load (the latent scale factor, applied as the official true division).
#include "common.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(constant_id = 1) const bool DIVIDE = false;
layout(constant_id = 2) const bool RESIDUAL = false;   // y += res (same strides as y)
// x and w are read through texel buffers: imageLoad is several times cheaper than an SSBO load on lavapipe (docs/lavapipe.md §1).
layout(binding = 0, r32f) uniform readonly imageBuffer x;
layout(binding = 1, rgba32f) uniform readonly imageBuffer w;
layout(std430, binding = 2) readonly buffer Bias { vec4 bias[]; };
layout(std430, binding = 3) readonly buffer Res { float res[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint positions;          // B·T·H·W
    uint t_len, h_len, w_len;
    uint cin, cout, groups;  // groups = Cout4 / 4
    uint kt, kh, kw, pad;
    uint xs_b, xs_t, xs_h, xs_w, xs_c;
    uint ys_b, ys_t, ys_h, ys_w, ys_c;
    float in_div;
} pc;

void main() {
    uint id = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (id >= pc.positions * pc.groups) return;
    uint g = id % pc.groups, pos = id / pc.groups;
    uint j = pos % pc.w_len, r = pos / pc.w_len;
    uint i = r % pc.h_len; r /= pc.h_len;
    uint t = r % pc.t_len, b = r / pc.t_len;

    vec4 acc = bias[g];
    for (uint dt = 0u; dt < pc.kt; dt++) {
        int ts = max(int(t + dt) - int(pc.kt - 1u), 0);
        for (uint di = 0u; di < pc.kh; di++) {
            int ii = int(i + di) - int(pc.pad);
            if (ii < 0 || ii >= int(pc.h_len)) continue;
            for (uint dj = 0u; dj < pc.kw; dj++) {
                int jj = int(j + dj) - int(pc.pad);
                if (jj < 0 || jj >= int(pc.w_len)) continue;
                uint xb = b * pc.xs_b + uint(ts) * pc.xs_t + uint(ii) * pc.xs_h + uint(jj) * pc.xs_w;
                uint wb = ((dt * pc.kh + di) * pc.kw + dj) * pc.cin * pc.groups + g;
                for (uint ci = 0u; ci < pc.cin; ci++) {
                    float v = imageLoad(x, int(xb + ci * pc.xs_c)).r;
                    if (DIVIDE) v = v / pc.in_div;
                    acc += v * imageLoad(w, int(wb + ci * pc.groups));
                }
            }
        }
    }
    uint yb = b * pc.ys_b + t * pc.ys_t + i * pc.ys_h + j * pc.ys_w;
    for (uint k = 0u; k < 4u; k++) {
        uint co = g * 4u + k;
        if (co >= pc.cout) break;
        float v = acc[k];
        if (RESIDUAL) v += res[yb + co * pc.ys_c];
        y[yb + co * pc.ys_c] = v;
    }
}
