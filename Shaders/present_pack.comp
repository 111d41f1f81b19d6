#version 450
// rgba[p] = (r[p], g[p], b[p], 1): RGB planes [3, P] to interleaved RGBA [P, 4], so the present shader
// reads one texel (one imageLoad) per bilinear tap instead of three scalar loads.
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(std430, binding = 0) readonly buffer X { float planes[]; };
layout(std430, binding = 1) writeonly buffer Y { float rgba[]; };
layout(push_constant) uniform P { uint pixels; } pc;

void main() {
    uint p = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (p >= pc.pixels) return;
    rgba[4u * p] = planes[p];
    rgba[4u * p + 1u] = planes[pc.pixels + p];
    rgba[4u * p + 2u] = planes[2u * pc.pixels + p];
    rgba[4u * p + 3u] = 1.0;
}
