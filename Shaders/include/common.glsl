// Shared GLSL for every kernel: extensions and dtype-aware loads.
#extension GL_EXT_control_flow_attributes : enable
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : enable

#include "constants.glsl"   // dtype codes, epilogues, activations, mask bias

// bf16 is the upper half of an f32.
float bf16_to_f32(uint bits16) { return uintBitsToFloat(bits16 << 16); }

float gelu_tanh(float x) {
    const float k = 0.7978845608028654; // sqrt(2/pi)
    return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
}

float silu(float x) { return x / (1.0 + exp(-x)); }
