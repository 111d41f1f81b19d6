// Reading f32/f16/bf16 tensors whose dtype is known only when the pipeline is created.
// A storage-buffer weight is declared twice on one binding with WEIGHT_BUFFER(binding, name) and read
// with WEIGHT_AT(name, i); DT (a specialization constant: DT_F32, DT_F16 or DT_BF16, common.glsl)
// selects the path, so the unused ones compile away. Texel views of packed 32-bit words use
// decode_weight.
#ifndef DTYPE_GLSL
#define DTYPE_GLSL

#define WEIGHT_BUFFER(b, name) \
    layout(std430, binding = b) readonly buffer name##_f32 { float name##32[]; }; \
    layout(std430, binding = b) readonly buffer name##_u16 { uint16_t name##16[]; };
#define WEIGHT_AT(name, i) (DT == DT_F32 ? name##32[i] : half_bits_to_f32(uint(name##16[i]), DT))

float half_bits_to_f32(uint bits, int dt) {
    return dt == DT_F16 ? unpackHalf2x16(bits).x : bf16_to_f32(bits);
}

// Element i of a tensor packed in 32-bit words: f32 is one word, f16/bf16 are half words (low half first).
float decode_weight(uint word, uint i, int dt) {
    if (dt == DT_F32) return uintBitsToFloat(word);
    return half_bits_to_f32((word >> ((i & 1u) * 16u)) & 0xFFFFu, dt);
}

// Rounds an f32 to the nearest bf16 value (ties to even), returned as f32. NaN/inf pass unchanged.
float round_bf16(float x) {
    uint u = floatBitsToUint(x);
    if ((u & 0x7F800000u) == 0x7F800000u) return x;
    u += 0x7FFFu + ((u >> 16) & 1u);
    return uintBitsToFloat(u & 0xFFFF0000u);
}

// Rounds an f32 to the nearest f16 value (ties to even), returned as f32; overflow gives +-inf.
// Done with integer arithmetic because GLSL leaves the rounding of f32 -> f16 conversions open.
float round_f16(float x) {
    uint u = floatBitsToUint(x);
    if ((u & 0x7F800000u) == 0x7F800000u) return x;
    float a = abs(x);
    if (a < 6.103515625e-05) // below the smallest normal f16 (2^-14): fixed step 2^-24
        return sign(x) * roundEven(a * 16777216.0) / 16777216.0;
    u += 0xFFFu + ((u >> 13) & 1u);
    float r = uintBitsToFloat(u & 0xFFFFE000u);
    return abs(r) > 65504.0 ? sign(x) * uintBitsToFloat(0x7F800000u) : r;
}

float round_to(float x, int dt) {
    if (dt == DT_F16) return round_f16(x);
    if (dt == DT_BF16) return round_bf16(x);
    return x;
}
#endif
