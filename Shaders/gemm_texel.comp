#version 450
// GEMM for CPU Vulkan devices (lavapipe): y = epilogue(x · wᵀ + bias), see gemm_common.glsl.
// On lavapipe a workgroup of 8 invocations is one SIMD register, and loads cost more than FMAs
// (docs/lavapipe.md §1 and §2: texel-buffer imageLoad is the cheapest load; shared memory and barriers are slow).
// So: no shared memory. Each lane loads the X texels of its own row, and subgroupShuffle with a constant
// lane hands every row's values to all 8 lanes (one gather serves 8 rows); each lane owns COLS output
// columns and loads their W texels itself. One step covers 8 values of k: two RGBA32F texels of X per row,
// and per column either two f32 texels or one texel of eight f16/bf16 values (W is viewed as RGBA32UI
// whatever its dtype). Needs K % 8 == 0 and texel-aligned X and W rows (checked by Gemm.cs).
// CONV: the implicit-GEMM convolution of gemm_common.glsl. The k loop runs tap by tap: per tap each lane points
// its row at the tap's source position (conv_source) and then steps through Cin like a plain GEMM row, so the
// inner loop is the GEMM's own; taps in the zero padding load a valid texel and scale it by 0. Needs Cin % 8 == 0.
// Measured on lavapipe (Mesa 25, perf samples at 4096×1152→4608): about 28% of the time is spent inside the texel
// loads, which are calls, most of the rest in this loop. Gemm.cs picks 3 row groups (24 rows): fewer calls per FMA
// than 16 rows; 32 rows helped some f32 shapes and slowed 16-bit ones, 8 columns per lane was slower (docs/lavapipe.md §10.1).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define GEMM_TEXEL_EPILOGUE
#include "gemm_common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LANES = 8;       // workgroup size = subgroup size
layout(constant_id = 1) const uint ROW_GROUPS = 2;  // rows per workgroup = LANES * ROW_GROUPS
layout(constant_id = 2) const uint COLS = 4;        // columns per lane; workgroup covers LANES * COLS columns
layout(constant_id = 3) const uint W_DTYPE = DT_F32;
layout(constant_id = 4) const bool CONV = false;
// Workgroup order: the grid's x runs over row blocks in groups of N_GROUP column blocks (x = m_block·N_GROUP + j,
// y = column group), so consecutive workgroups reuse one W panel of N_GROUP column blocks from the core's L2 while the
// X rows stream past; Gemm.cs sizes the panel to fit. With columns fastest instead, every row block streamed all of W
// (21 MB f32 at 1152 → 4608) from memory and the f32 GEMM ran 15-40% slower (docs/lavapipe.md §2).
layout(constant_id = 5) const uint N_GROUP = 1;
// W_PANELS: W is stored in the panels of Engine/Kernels/GemmPanels.cs, [column block][run][column group][lane][32 bytes],
// so the 8 lanes of a W load read within 256 contiguous bytes and a workgroup one stream (row-major: 32 rows a row apart).
layout(constant_id = 6) const bool W_PANELS = false;

const uint ROWS = LANES * ROW_GROUPS;
// Register blocks of accumulate(); ROWS is a multiple of 8.
const uint BLOCK_ROWS = 2, BLOCK_COLS = COLS % 4u == 0u ? 4u : 1u;

layout(binding = 0, rgba32f) readonly uniform imageBuffer X;
layout(binding = 1, rgba32ui) readonly uniform uimageBuffer W;

// Texels of one column's 8 weights: two f32 texels or one of eight 16-bit values.
const uint W_TEXELS = W_DTYPE == DT_F32 ? 2u : 1u;
// Panels: a column's 32-byte runs (two texels: one step of f32, two of 16-bit values) lie COLS · LANES runs apart.
const uint STEPS_PER_RUN = W_DTYPE == DT_F32 ? 1u : 2u;

// The 8 weights of one column at a step, from the column's first texel.
void load_w8(uint column_texel, uint step, out vec4 lo, out vec4 hi) {
    const int t = int(W_PANELS ? column_texel + step / STEPS_PER_RUN * (2u * COLS * LANES) + step % STEPS_PER_RUN
                               : column_texel + W_TEXELS * step);
    if (W_DTYPE == DT_F32) {
        lo = uintBitsToFloat(imageLoad(W, t));
        hi = uintBitsToFloat(imageLoad(W, t + 1));
    } else {
        uvec4 u = imageLoad(W, t);
        if (W_DTYPE == DT_F16) {
            lo = vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y));
            hi = vec4(unpackHalf2x16(u.z), unpackHalf2x16(u.w));
        } else { // bf16: the upper halves of f32s; the lower-addressed value sits in the low 16 bits
            lo = uintBitsToFloat(uvec4(u.x << 16, u.x & 0xffff0000u, u.y << 16, u.y & 0xffff0000u));
            hi = uintBitsToFloat(uvec4(u.z << 16, u.z & 0xffff0000u, u.w << 16, u.w & 0xffff0000u));
        }
    }
}

float acc[ROWS][COLS];      // acc[r][c]: row m_base + r, column n_base + c·LANES + lane
uint x_row[ROW_GROUPS];     // first X texel of this lane's row in each row group
float x_keep[ROW_GROUPS];   // CONV: 0 where this lane's row reads the zero padding, else 1
uint w_col[COLS];           // first W texel of this lane's columns

// One step of 8 values of k: X texels 2·xs, 2·xs + 1 of the rows, W step ws of the columns.
// The step runs in blocks of BLOCK_ROWS × BLOCK_COLS outputs, each taken through all 8 k before the next, so a
// block's 8 sums stay in registers (16 on AVX2) while the texels come from the stack: llvm-mca on lavapipe's code
// modelled 479 cycles per step in f32 against 553 with each output's 8 k at a time (docs/lavapipe.md §10.1). Every
// output still sums its 8 products in k order, so results are unchanged to the bit.
// subgroupShuffle with a constant lane, not subgroupBroadcast: on lavapipe the
// former is a register permute, the latter measured 2-3 times slower for the whole kernel (docs/lavapipe.md §3).
void accumulate(uint xs, uint ws) {
    vec4 w_lo[COLS], w_hi[COLS], x_lo[ROW_GROUPS], x_hi[ROW_GROUPS];
    [[unroll]] for (uint c = 0; c < COLS; c++) load_w8(w_col[c], ws, w_lo[c], w_hi[c]);
    [[unroll]] for (uint g = 0; g < ROW_GROUPS; g++) {
        x_lo[g] = imageLoad(X, int(x_row[g] + 2u * xs));
        x_hi[g] = imageLoad(X, int(x_row[g] + 2u * xs + 1u));
        if (CONV) { x_lo[g] *= x_keep[g]; x_hi[g] *= x_keep[g]; }
    }
    [[unroll]] for (uint r0 = 0; r0 < ROWS; r0 += BLOCK_ROWS)
        [[unroll]] for (uint c0 = 0; c0 < COLS; c0 += BLOCK_COLS) {
            float sum[BLOCK_ROWS][BLOCK_COLS];
            [[unroll]] for (uint i = 0; i < BLOCK_ROWS; i++)
                [[unroll]] for (uint j = 0; j < BLOCK_COLS; j++) sum[i][j] = acc[r0 + i][c0 + j];
            [[unroll]] for (uint k = 0; k < 8u; k++)
                [[unroll]] for (uint i = 0; i < BLOCK_ROWS; i++) {
                    uint r = r0 + i;
                    float x = subgroupShuffle(k < 4u ? x_lo[r / LANES][k] : x_hi[r / LANES][k - 4u], r % LANES);
                    [[unroll]] for (uint j = 0; j < BLOCK_COLS; j++)
                        sum[i][j] = fma(x, k < 4u ? w_lo[c0 + j][k] : w_hi[c0 + j][k - 4u], sum[i][j]);
                }
            [[unroll]] for (uint i = 0; i < BLOCK_ROWS; i++)
                [[unroll]] for (uint j = 0; j < BLOCK_COLS; j++) acc[r0 + i][c0 + j] = sum[i][j];
        }
}

void main() {
    uint lane = gl_LocalInvocationID.x;
    uint n_base = (gl_WorkGroupID.y * N_GROUP + gl_WorkGroupID.x % N_GROUP) * (LANES * COLS);
    uint m_base = gl_WorkGroupID.x / N_GROUP * ROWS;
    uint steps = pc.K / 8u;

    // Rows and columns past the edge load the last valid row/column (their results are not stored); panels hold
    // whole column blocks (Gemm.cs packs only those).
    [[unroll]] for (uint c = 0; c < COLS; c++)
        w_col[c] = pc.w_off + (W_PANELS ? n_base * steps * W_TEXELS + (c * LANES + lane) * 2u
                                        : min(n_base + c * LANES + lane, pc.N - 1u) * steps * W_TEXELS);
    [[unroll]] for (uint r = 0; r < ROWS; r++)
        [[unroll]] for (uint c = 0; c < COLS; c++) acc[r][c] = 0.0;

    if (!CONV) {
        [[unroll]] for (uint g = 0; g < ROW_GROUPS; g++)
            x_row[g] = pc.x_off + min(m_base + g * LANES + lane, pc.M - 1u) * (pc.K / 4u);
        for (uint s = 0; s < steps; s++) accumulate(s, s);   // unrolling this loop by 2 measured no faster
    } else {
        uint cin_steps = pc.conv_cin / 8u, w_step = 0u;
        for (uint dt = 0u; dt < pc.conv_kt; dt++)
            for (uint di = 0u; di < pc.conv_kh; di++)
                for (uint dj = 0u; dj < pc.conv_kw; dj++) {
                    [[unroll]] for (uint g = 0; g < ROW_GROUPS; g++) {
                        int src = conv_source(pc.m0 + min(m_base + g * LANES + lane, pc.M - 1u), dt, di, dj);
                        x_row[g] = pc.x_off + uint(max(src, 0)) * (pc.conv_cin / 4u);
                        x_keep[g] = src < 0 ? 0.0 : 1.0;
                    }
                    for (uint s = 0; s < cin_steps; s++) accumulate(s, w_step + s);
                    w_step += cin_steps;
                }
    }

    float bias[COLS];
    [[unroll]] for (uint c = 0; c < COLS; c++) bias[c] = gemm_bias(n_base + c * LANES + lane);
    [[unroll]] for (uint r = 0; r < ROWS; r++)
        [[unroll]] for (uint c = 0; c < COLS; c++)
            gemm_store_biased(m_base + r, n_base + c * LANES + lane, acc[r][c] + bias[c]);
}
