#version 450
// Window attention over the window-major layout [B·P, N, C] (docs/ptdit.md §5): the N tokens of each window attend to
// each other. Shifted mode (docs/ptdit.md §6 and §7.4): workgroup z is a window of the grid rolled by half a
// window, (f', r', c') holding the token at ((f'+sf) mod F, (r'+sh) mod h, (c'+sw) mod w). Rows are read from and
// written back to those tokens' places in the normal layout (so the inverse roll is free), and pairs whose Swin
// region labels differ get -10000. No copies, no mask in memory. The core is attention_core.glsl.
#include "attention_core.glsl"   // main(); this file supplies the hooks it declares
layout(constant_id = 5) const bool SHIFTED = false;

layout(push_constant) uniform P {
    uint n;                  // tokens per window, cf·ch·cw
    uint windows;            // windows per sample, P
    uint frames, height, width;   // token grid F, h, w
    uint cf, ch, cw;              // window
    int q_base, q_stride, k_base, k_stride, v_base, v_stride;   // texels
    uint o_stride;                                              // vec4s per output row
    float scale;
} pc;

uint query_count() { return pc.n; }
uint key_count() { return pc.n; }
float logit_scale() { return pc.scale; }

// Position of in-window token t of window g_item on the (rolled) grid.
uvec3 grid_position(uint t) {
    const uint p = g_item % pc.windows;
    const uint nh = pc.height / pc.ch, nw = pc.width / pc.cw;
    const uvec3 window = uvec3(p / (nh * nw), (p / nw) % nh, p % nw);
    const uvec3 inside = uvec3(t / (pc.ch * pc.cw), (t / pc.cw) % pc.ch, t % pc.cw);
    return window * uvec3(pc.cf, pc.ch, pc.cw) + inside;
}

// Row of token t of window g_item in the normal layout.
uint token_row(uint t) {
    if (!SHIFTED) return g_item * pc.n + t;
    const uvec3 shift = uvec3(pc.cf, pc.ch, pc.cw) / 2;
    const uvec3 grid = uvec3(pc.frames, pc.height, pc.width);
    const uvec3 g = (grid_position(t) + shift) % grid;   // the original token this rolled cell holds
    const uvec3 win = uvec3(pc.cf, pc.ch, pc.cw);
    const uvec3 w = g / win, x = g % win;
    const uint nh = pc.height / pc.ch, nw = pc.width / pc.cw;
    const uint sample_first = g_item - g_item % pc.windows;
    return (sample_first + (w.x * nh + w.y) * nw + w.z) * pc.n + (x.x * pc.ch + x.y) * pc.cw + x.z;
}

// Swin region label along one axis of the rolled grid: windows that wrap around hold two regions. A shift of 0
// gives every cell label 2 (the official slice [-0:] covers the whole axis, docs/ptdit.md, quirk Q5).
uint axis_label(uint x, uint len, uint win) {
    const uint shift = win / 2;
    if (shift == 0) return 2;
    return x < len - win ? 0 : (x < len - shift ? 1 : 2);
}

uint region(uint t) {
    if (!SHIFTED) return 0;
    const uvec3 g = grid_position(t);
    return 9 * axis_label(g.x, pc.frames, pc.cf) + 3 * axis_label(g.y, pc.height, pc.ch) + axis_label(g.z, pc.width, pc.cw);
}

int q_texel(uint i) { return pc.q_base + int(token_row(i)) * pc.q_stride + int(g_head * D4); }
int k_texel(uint j) { return pc.k_base + int(token_row(j)) * pc.k_stride + int(g_head * D4); }
int v_texel(uint j) { return pc.v_base + int(token_row(j)) * pc.v_stride + int(g_head * D4); }
uint o_vec4(uint i) { return token_row(i) * pc.o_stride + g_head * D4; }
float key_bias(uint j) { return 0.0; }
float pair_bias(uint i, uint j) { return 0.0; }

