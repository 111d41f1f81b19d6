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

// Per window, set once by begin_item(): the window's place in the grid of windows and its first cell on the (rolled)
// token grid, the windows per axis, and the first window of its sample. Integer division has no vector instruction on
// a CPU, so lavapipe divides lane by lane; token_row() runs for every block of keys and so divides only to split t.
uvec3 g_window, g_origin, g_windows;
uint g_sample_first;

void begin_item() {
    const uint p = g_item % pc.windows;
    g_windows = uvec3(pc.frames / pc.cf, pc.height / pc.ch, pc.width / pc.cw);
    g_window = uvec3(p / (g_windows.y * g_windows.z), (p / g_windows.z) % g_windows.y, p % g_windows.z);
    g_origin = g_window * uvec3(pc.cf, pc.ch, pc.cw);
    g_sample_first = g_item - p;
}

// Position of token t of the window inside it, and on the (rolled) grid.
uvec3 inside_position(uint t) { return uvec3(t / (pc.ch * pc.cw), (t / pc.cw) % pc.ch, t % pc.cw); }
uvec3 grid_position(uint t) { return g_origin + inside_position(t); }

// Row of token t of window g_item in the normal layout.
uint token_row(uint t) {
    if (!SHIFTED) return g_item * pc.n + t;
    // The rolled cell holds the original token at grid position + shift (mod grid). With a = position inside the
    // window + shift (< 2 windows), that token lies in this window's successor when a passes the window, and a
    // successor past the grid's end wraps to window 0: compares instead of divisions.
    const uvec3 win = uvec3(pc.cf, pc.ch, pc.cw);
    const uvec3 a = inside_position(t) + win / 2;
    const bvec3 next = greaterThanEqual(a, win);
    const uvec3 x = a - uvec3(next) * win;
    uvec3 w = g_window + uvec3(next);
    w = w - uvec3(equal(w, g_windows)) * g_windows;
    return (g_sample_first + (w.x * g_windows.y + w.y) * g_windows.z + w.z) * pc.n + (x.x * pc.ch + x.y) * pc.cw + x.z;
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

