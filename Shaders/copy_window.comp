#version 450
// dst[y0 + y, x0 + x] = src[y, x] for y < h, x < w: the top-left h × w window of a src plane into a dst plane
// (placing a decoded tile's kept part into the image). *_off: element offsets of the planes inside their bindings.
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(std430, binding = 0) readonly buffer S { float src[]; };
layout(std430, binding = 1) writeonly buffer D { float dst[]; };
layout(push_constant) uniform P { uint h, w, src_w, dst_w, y0, x0, src_off, dst_off; } pc;

void main() {
    uint id = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (id >= pc.h * pc.w) return;
    uint x = id % pc.w, y = id / pc.w;
    dst[pc.dst_off + (pc.y0 + y) * pc.dst_w + pc.x0 + x] = src[pc.src_off + y * pc.src_w + x];
}
