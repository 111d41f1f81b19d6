#version 450
// 2x upsampling of channel-last x [B, T, H, W, C] into y [B, T', 2H, 2W, C], one invocation per 4 channels of an
// output position (x read as RGBA32F texels: one view, not limited by maxStorageBufferRange).
// NEAREST (SpatialUpsample2x): T' = T, y = x[t, i/2, j/2].
// otherwise (Spatial2xTime2x3DUpsample): T' = 2T - 1; output frame 0 is frame 0 upsampled bilinearly in space only,
// output frames 1.. are frames 1.. upsampled trilinearly (2x in time too), PyTorch align_corners=False. The combine
// nests W innermost, then H, then T, as PyTorch's interpolation does.
// y may not fit one binding: a dispatch writes output positions [pos0, pos0 + positions).
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(constant_id = 1) const bool NEAREST = false;
layout(binding = 0, rgba32f) uniform readonly imageBuffer X;
layout(std430, binding = 1) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P { uint total; uint pos0; uint t_in, h_in, w_in, c4; } pc;

// Linear 2x along an axis of length n: source indices and the weight of the second one.
void taps(uint d, uint n, out uint i0, out uint i1, out float l1) {
    float s = max((float(d) + 0.5) * 0.5 - 0.5, 0.0);
    i0 = uint(s);
    i1 = min(i0 + 1u, n - 1u);
    l1 = s - float(i0);
}

vec4 at(uint b, uint t, uint i, uint j, uint q) {
    return imageLoad(X, int((((b * pc.t_in + t) * pc.h_in + i) * pc.w_in + j) * pc.c4 + q));
}

// bilinear 2x in space of frame t at output (oi, oj)
vec4 spatial(uint b, uint t, uint oi, uint oj, uint q) {
    uint i0, i1, j0, j1; float li, lj;
    taps(oi, pc.h_in, i0, i1, li);
    taps(oj, pc.w_in, j0, j1, lj);
    vec4 r0 = at(b, t, i0, j0, q) * (1.0 - lj) + at(b, t, i0, j1, q) * lj;
    vec4 r1 = at(b, t, i1, j0, q) * (1.0 - lj) + at(b, t, i1, j1, q) * lj;
    return r0 * (1.0 - li) + r1 * li;
}

void main() {
    uint id = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (id >= pc.total) return;
    uint ho = 2u * pc.h_in, wo = 2u * pc.w_in, to = NEAREST ? pc.t_in : 2u * pc.t_in - 1u;
    uint q = id % pc.c4, r = pc.pos0 + id / pc.c4;
    uint oj = r % wo; r /= wo;
    uint oi = r % ho; r /= ho;
    uint ot = r % to, b = r / to;
    vec4 v;
    if (NEAREST) v = at(b, ot, oi / 2u, oj / 2u, q);
    else if (ot == 0u) v = spatial(b, 0u, oi, oj, q);
    else {
        uint t0, t1; float lt;
        taps(ot - 1u, pc.t_in - 1u, t0, t1, lt);
        v = spatial(b, 1u + t0, oi, oj, q) * (1.0 - lt) + spatial(b, 1u + t1, oi, oj, q) * lt;
    }
    y[id] = v;
}
