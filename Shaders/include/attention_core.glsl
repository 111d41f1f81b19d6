// Multi-head attention core shared by attention.comp and window_attention.comp:
//   O[i] = softmax_j( (scale·q_i)·k_j + key_bias(j) + pair_bias(i, j) + region term ) · V
// for the queries of one workgroup against every key, with an online softmax (keys staged in blocks of KB),
// so the Nq × Nk logits never exist in memory. Workgroup (x: query tile, y: head, z: item), where the
// item is a batch element (dense) or a window (window attention).
//
// The including shader includes this file first and then defines these hooks (declared below):
//   uint  query_count(), key_count()
//   int   q_texel(uint i), k_texel(uint j), v_texel(uint j)  texel (vec4) index of the head's first channel
//   uint  o_vec4(uint i)                                      vec4 index of the head's first output channel
//   float key_bias(uint j)                                    additive bias of key j (padding mask)
//   float pair_bias(uint i, uint j)                           additive bias of one pair (T5 position bias)
//   uint  region(uint t)                                      Swin region label; pairs with different labels get -10000
//   float logit_scale()
//   void  begin_item()                                        called once, after g_item and g_head are set
// The hooks may read the globals g_item and g_head, set before any hook is called.
//
// Two variants, chosen by specialization constants when the pipeline is created:
//   SHARED_KV = false (CPU devices such as lavapipe): the workgroup is one subgroup of LANES = KB lanes. Each lane
//     loads one key row and one value row of the block into registers with texel loads, and the other lanes read them
//     through subgroupShuffle (on lavapipe a register permute, docs/lavapipe.md §3; subgroupBroadcast of the same lane measured 2-3 times
//     slower for the whole kernel on Mesa 22.3, Zen 5): no shared memory, no barriers, and every texel load fetches a distinct row (loads,
//     not arithmetic, are what cost on lavapipe). Each lane owns ROWS query rows, so every broadcast feeds ROWS rows.
//     On lavapipe q and the accumulators live in stack memory (SoA spills), so the block's logits are gathered first
//     and o += p·V runs over the whole block at once: each accumulator is loaded and stored once per KB keys.
//   SHARED_KV = true (GPUs): the workgroup stages each block of KB key and value rows in shared memory, and each of
//     its LANES invocations owns ROWS query rows.
#extension GL_EXT_control_flow_attributes : enable
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_KHR_shader_subgroup_shuffle : require

#include "constants.glsl"   // MASK_BIAS: the official masks are -10000 additive biases, not -inf (docs/ptdit.md, quirk Q7)
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LANES = 8;
layout(constant_id = 1) const uint D4 = 18;      // head dim / 4
layout(constant_id = 2) const uint ROWS = 4;     // query rows per invocation
layout(constant_id = 3) const uint KB = 8;       // keys per block
layout(constant_id = 4) const bool SHARED_KV = false;
// The including shaders number their own constants from 5 on (their C# specialization records start with AttentionCoreSpec).

layout(binding = 0, rgba32f) uniform readonly imageBuffer Qt;
layout(binding = 1, rgba32f) uniform readonly imageBuffer Kt;
layout(binding = 2, rgba32f) uniform readonly imageBuffer Vt;
layout(std430, binding = 3) writeonly buffer Out { vec4 o_out[]; };

// Starting row maximum: finite (no inf - inf), and exp() of it relative to any logit is exactly 0.
const float NO_KEY = -1e30;
// How far a logit may exceed the row's reference maximum before the accumulators are rescaled.
const float LAZY_MAX = 16.0;

const uint STAGED = SHARED_KV ? KB : 1;
shared vec4 sk[STAGED * D4];
shared vec4 sv[STAGED * D4];
shared float sbias[STAGED];
shared uint slabel[STAGED];

uint g_item, g_head;

// acc + a·b with explicit fused multiply-adds (a CPU JIT may not contract dot() and + on its own).
float dot4_acc(vec4 a, vec4 b, float acc) {
    return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, acc))));
}

uint query_count();
uint key_count();
int q_texel(uint i);
int k_texel(uint j);
int v_texel(uint j);
uint o_vec4(uint i);
float key_bias(uint j);
float pair_bias(uint i, uint j);
uint region(uint t);
float logit_scale();
void begin_item();

void main() {
    g_item = gl_WorkGroupID.z;
    g_head = gl_WorkGroupID.y;
    begin_item();
    const uint lane = gl_LocalInvocationID.x;
    const uint nq = query_count(), nk = key_count();
    const uint first = gl_WorkGroupID.x * LANES * ROWS;
    const float scale = logit_scale();

    vec4 q[ROWS][D4], o[ROWS][D4];
    float row_max[ROWS], row_sum[ROWS];
    uint qi[ROWS], qlabel[ROWS];
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        qi[r] = min(first + r * LANES + lane, nq - 1);   // rows past the end compute a copy and are not stored
        qlabel[r] = region(qi[r]);
        const int t = q_texel(qi[r]);
        [[unroll]] for (uint c = 0; c < D4; c++) {
            q[r][c] = scale * imageLoad(Qt, t + int(c));  // the scale multiplies the dot product, before any bias
            o[r][c] = vec4(0.0);
        }
        row_max[r] = NO_KEY;
        row_sum[r] = 0.0;
    }

    vec4 kreg[D4], vreg[D4];   // subgroup variant: the key and value row this lane loaded for the block
    float kbias = 0.0;
    uint klabel = 0;
    for (uint j0 = 0; j0 < nk; j0 += KB) {
        if (SHARED_KV) {
            barrier();   // every invocation is done with the previous block
            for (uint e = lane; e < KB * D4; e += LANES) {
                const uint j = min(j0 + e / D4, nk - 1);
                sk[e] = imageLoad(Kt, k_texel(j) + int(e % D4));
                sv[e] = imageLoad(Vt, v_texel(j) + int(e % D4));
            }
            for (uint m = lane; m < KB; m += LANES) {
                const uint j = min(j0 + m, nk - 1);
                sbias[m] = key_bias(j);
                slabel[m] = region(j);
            }
            barrier();
        } else {
            const uint j = min(j0 + lane, nk - 1);
            const int kt = k_texel(j), vt = v_texel(j);
            [[unroll]] for (uint c = 0; c < D4; c++) {
                kreg[c] = imageLoad(Kt, kt + int(c));
                vreg[c] = imageLoad(Vt, vt + int(c));
            }
            kbias = key_bias(j);
            klabel = region(j);
        }

        // Logits of the block, one key per iteration of a loop that is not unrolled (small code for a CPU JIT).
        // Each key element is fetched once and used by all ROWS rows; the logits land in p by constant indices.
        const uint keys = min(KB, nk - j0);
        float p[KB][ROWS];
        for (uint m = 0; m < KB; m++) {
            const uint mk = min(m, keys - 1);
            float s[ROWS];
            [[unroll]] for (uint r = 0; r < ROWS; r++) s[r] = 0.0;
            [[unroll]] for (uint c = 0; c < D4; c++) {
                vec4 kv;
                if (SHARED_KV) kv = sk[mk * D4 + c]; else kv = subgroupShuffle(kreg[c], mk);
                [[unroll]] for (uint r = 0; r < ROWS; r++) s[r] = dot4_acc(q[r][c], kv, s[r]);
            }
            float kb;
            uint kl;
            if (SHARED_KV) { kb = sbias[mk]; kl = slabel[mk]; }
            else { kb = subgroupShuffle(kbias, mk); kl = subgroupShuffle(klabel, mk); }
            [[unroll]] for (uint r = 0; r < ROWS; r++) {
                s[r] += kb + pair_bias(qi[r], j0 + mk) + (qlabel[r] == kl ? 0.0 : MASK_BIAS);
                if (m >= keys) s[r] = NO_KEY;   // past the last key: weight 0
            }
            [[unroll]] for (uint mm = 0; mm < KB; mm++)
                if (mm == m) [[unroll]] for (uint r = 0; r < ROWS; r++) p[mm][r] = s[r];
        }

        // Online softmax with a lazily raised reference: weights exp(s - row_max) may reach e^LAZY_MAX, which f32
        // sums hold as exactly as weights ≤ 1; the reference is raised only when a logit exceeds it. The rescale is
        // branch-free (a factor of exactly 1 otherwise): Mesa 25's lavapipe miscompiled the branch (wrong attention
        // in both variants), and without it Mesa 22.3 runs as fast.
        float rescale[ROWS];
        [[unroll]] for (uint r = 0; r < ROWS; r++) {
            float block_max = NO_KEY;
            [[unroll]] for (uint m = 0; m < KB; m++) block_max = max(block_max, p[m][r]);
            const bool raise = block_max > row_max[r] + LAZY_MAX;
            rescale[r] = raise ? exp(row_max[r] - block_max) : 1.0;
            row_max[r] = raise ? block_max : row_max[r];
            row_sum[r] *= rescale[r];
            [[unroll]] for (uint m = 0; m < KB; m++) {
                p[m][r] = exp(p[m][r] - row_max[r]);
                row_sum[r] += p[m][r];
            }
        }

        // o = o·rescale + p·V for the whole block, one output vec4 at a time through all KB keys: the accumulator stays
        // in registers and is loaded and stored once per block. (With the rows innermost instead, the ROWS·4
        // accumulators of a column outgrow the registers and every fma became a load, a store and a stack reload:
        // two thirds of the kernel's time on lavapipe, per llvm-mca; docs/lavapipe.md §10.) The block's values are
        // shuffled once, then a row at a time runs through them, so its KB weights p stay in registers (7% fewer
        // cycles for this part than shuffling per column, per llvm-mca; docs/lavapipe.md §10.1).
        vec4 vv[D4][KB];
        [[unroll]] for (uint c = 0; c < D4; c++)
            [[unroll]] for (uint m = 0; m < KB; m++) {
                if (SHARED_KV) vv[c][m] = sv[m * D4 + c]; else vv[c][m] = subgroupShuffle(vreg[c], m);
            }
        [[unroll]] for (uint r = 0; r < ROWS; r++)
            [[unroll]] for (uint c = 0; c < D4; c++) {
                vec4 acc = o[r][c] * rescale[r];
                [[unroll]] for (uint m = 0; m < KB; m++) acc = fma(vec4(p[m][r]), vv[c][m], acc);
                o[r][c] = acc;
            }
    }

    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        if (first + r * LANES + lane < nq) {
            const uint ob = o_vec4(qi[r]);
            const float inv = 1.0 / row_sum[r];
            [[unroll]] for (uint c = 0; c < D4; c++) o_out[ob + c] = o[r][c] * inv;
        }
    }
}
