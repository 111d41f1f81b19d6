#version 450
// rgb[c, p] = m[c, C] + sum_k m[c, k] * latent[k, p]: the viewer's cheap per-step preview of a latent
// (a linear latent-to-RGB projection, m = [3, C + 1] with the bias last), one invocation per pixel p.
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(std430, binding = 0) readonly buffer L { float latent[]; };   // [C, P]
layout(std430, binding = 1) readonly buffer M { float m[]; };        // [3, C + 1]
layout(std430, binding = 2) writeonly buffer Y { float rgb[]; };     // [3, P]
layout(push_constant) uniform P { uint pixels; uint channels; } pc;

void main() {
    uint p = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (p >= pc.pixels) return;
    uint row = pc.channels + 1u;
    vec3 acc = vec3(m[pc.channels], m[row + pc.channels], m[2u * row + pc.channels]);
    for (uint k = 0u; k < pc.channels; k++) {
        float v = latent[k * pc.pixels + p];
        acc += v * vec3(m[k], m[row + k], m[2u * row + k]);
    }
    rgb[p] = acc.r;
    rgb[pc.pixels + p] = acc.g;
    rgb[2u * pc.pixels + p] = acc.b;
}
