#version 450
// Embedding gather: y[t, :] = table[ids[t], :] widened to f32. The table (f32/f16/bf16 [V, D]) is read
// through an R32_UINT texel view, so it is limited by maxTexelBufferElements instead of
// maxStorageBufferRange; a table larger than one view is gathered in several dispatches, each over
// the rows [row0, row0 + rows) of its view. Ids outside [0, vocab) give a zero row (written by the
// dispatch with FIRST set); hosts should reject them before upload (Embedding.CheckIds).
#include "common.glsl"
#include "dtype.glsl"
layout(local_size_x_id = 0) in;   // the workgroup size: SpecId 0, set from C#
layout(constant_id = 1) const int DT = DT_F32;
layout(std430, binding = 0) readonly buffer Ids { int ids[]; };
layout(binding = 1, r32ui) uniform readonly uimageBuffer table;
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint tokens; uint d; int vocab; int row0; int rows; uint first; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (i >= pc.tokens * pc.d) return;
    int id = ids[i / pc.d];
    uint c = i % pc.d;
    if (id >= pc.row0 && id < pc.row0 + pc.rows) {
        uint e = uint(id - pc.row0) * pc.d + c; // element index inside this view
        uint word = imageLoad(table, int(DT == DT_F32 ? e : e >> 1)).x;
        y[i] = decode_weight(word, e, DT);
    } else if (pc.first != 0u && (id < 0 || id >= pc.vocab)) {
        y[i] = 0.0;
    }
}
