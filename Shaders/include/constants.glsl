// Values the shaders share with the C# side. Engine/Kernels/ShaderConstants.cs holds the same names in PascalCase
// (DT_F32 -> DtF32) and Tests/Vulkan/ShaderInterfaceTests.cs checks that the two agree.
#ifndef CONSTANTS_GLSL
#define CONSTANTS_GLSL

// Weight dtype codes (DType.ShaderCode).
#define DT_F32 0
#define DT_F16 1
#define DT_BF16 2

// GEMM epilogues (the Epilogue enum).
#define EPI_NONE 0
#define EPI_GELU 1
#define EPI_SILU 2

// Elementwise activations (the ActivationKind enum).
#define ACT_GELU_TANH 0
#define ACT_SILU 1

// The official attention masks add -10000, not -inf (docs/ptdit.md, quirk Q7).
const float MASK_BIAS = -10000.0;

#endif
