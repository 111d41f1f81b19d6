#version 450
// The official tile cross-fade (CausalVAE.blend_v / blend_h) on one plane (one sample, channel and frame) of two
// neighbouring decoded tiles, in place on b:
//   rows:    b[y, x] = a[Ha − e + y, x] · (1 − y/e) + b[y, x] · (y/e)   for y < e   (a and b equally wide)
//   columns: b[y, x] = a[y, Wa − e + x] · (1 − x/e) + b[y, x] · (x/e)   for x < e   (a and b equally high)
// One invocation per blended element. *_off: element offsets of the planes inside their bindings.
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(constant_id = 1) const bool COLUMNS = false;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) buffer B { float b[]; };
layout(push_constant) uniform P { uint a_h, a_w, b_h, b_w, e, a_off, b_off; } pc;

void main() {
    uint width = COLUMNS ? pc.e : pc.b_w, height = COLUMNS ? pc.b_h : pc.e;
    uint id = gl_GlobalInvocationID.x;
    if (id >= width * height) return;
    uint x = id % width, y = id / width, d = COLUMNS ? x : y;
    float wb = float(d) / float(pc.e), wa = float(pc.e - d) / float(pc.e);
    uint ai = COLUMNS ? y * pc.a_w + (pc.a_w - pc.e + x) : (pc.a_h - pc.e + y) * pc.a_w + x;
    uint bi = pc.b_off + y * pc.b_w + x;
    b[bi] = a[pc.a_off + ai] * wa + b[bi] * wb;
}
