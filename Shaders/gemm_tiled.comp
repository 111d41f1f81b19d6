#version 450
// GEMM for GPUs: y = epilogue(x · wᵀ + bias), see gemm_common.glsl. The classic shared-memory tiling:
// a workgroup computes a BM × BN tile of y, stepping through k in slices of BK that all invocations load
// cooperatively into shared memory; each invocation then accumulates TM × TN outputs in registers.
// Handles any shape and alignment (also the fallback for shapes the texel variant cannot take).
// CONV: the implicit-GEMM convolution of gemm_common.glsl, X element (m, k) gathered from the volume on load.
#include "gemm_common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint THREADS = 256;  // = (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(constant_id = 6) const uint W_DTYPE = DT_F32;
layout(constant_id = 7) const bool CONV = false;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer WF32 { float w_f32[]; };
layout(std430, binding = 1) readonly buffer WU16 { uint16_t w_u16[]; };

shared float As[BK][BM];
shared float Bs[BK][BN];

float load_w(uint i) {
    if (W_DTYPE == DT_F32) return w_f32[i];
    uint bits = uint(w_u16[i]);
    return W_DTYPE == DT_F16 ? unpackHalf2x16(bits).x : bf16_to_f32(bits);
}

// X element (m, k) of this chunk (m chunk-local, both in range).
float load_x(uint m, uint k) {
    if (!CONV) return x[pc.x_off + m * pc.K + k];
    uint tap = k / pc.conv_cin, ci = k - tap * pc.conv_cin;
    uint dj = tap % pc.conv_kw; tap /= pc.conv_kw;
    int src = conv_source(pc.m0 + m, tap / pc.conv_kh, tap % pc.conv_kh, dj);
    return src < 0 ? 0.0 : x[pc.x_off + uint(src) * pc.conv_cin + ci];
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint m_base = gl_WorkGroupID.y * BM;
    uint n_base = gl_WorkGroupID.x * BN;
    // Invocation (tx, ty) owns rows ty + i·(BM/TM) and columns tx + j·(BN/TN): neighbours read neighbouring
    // shared-memory words and store neighbouring y elements.
    uint tx = tid % (BN / TN), ty = tid / (BN / TN);

    float acc[TM][TN];
    [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        for (uint e = tid; e < BM * BK; e += THREADS) {
            uint r = e / BK, kk = e % BK, m = m_base + r, k = k0 + kk;
            As[kk][r] = (m < pc.M && k < pc.K) ? load_x(m, k) : 0.0;
        }
        for (uint e = tid; e < BN * BK; e += THREADS) {
            uint c = e / BK, kk = e % BK, n = n_base + c, k = k0 + kk;
            Bs[kk][c] = (n < pc.N && k < pc.K) ? load_w(pc.w_off + n * pc.K + k) : 0.0;
        }
        barrier();
        [[unroll]] for (uint kk = 0; kk < BK; kk++) {
            float a[TM], b[TN];
            [[unroll]] for (uint i = 0; i < TM; i++) a[i] = As[kk][ty + i * (BM / TM)];
            [[unroll]] for (uint j = 0; j < TN; j++) b[j] = Bs[kk][tx + j * (BN / TN)];
            [[unroll]] for (uint i = 0; i < TM; i++)
                [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        barrier();
    }

    [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint j = 0; j < TN; j++)
            gemm_store(m_base + ty + i * (BM / TM), n_base + tx + j * (BN / TN), acc[i][j]);
}
