#version 450
// adaLN-single modulation vectors: out[j, g, :] = table[j, :] + temb[g, chunk(j)*D : chunk(j)*D + D]
// with chunk(j) = j when temb holds several D-wide chunks (the block's temb6), and 0 when temb is
// a single D-wide vector (the final layer). table is f32/f16/bf16 [R, D]; temb and out are f32.
// Output is row-major [R, G, D] so each vector set (e.g. all samples' shift_msa) is one contiguous [G, D].
#include "common.glsl"
#include "dtype.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(constant_id = 1) const int DT = DT_F32;
WEIGHT_BUFFER(0, table)
layout(std430, binding = 1) readonly buffer E { float temb[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { uint r; uint g; uint d; uint temb_width; uint chunk_stride; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (i >= pc.r * pc.g * pc.d) return;
    uint c = i % pc.d, g = (i / pc.d) % pc.g, j = i / (pc.d * pc.g);
    o[i] = WEIGHT_AT(table, j * pc.d + c) + temb[g * pc.temb_width + j * pc.chunk_stride + c];
}
