namespace T2X.Vulkan.Kernels;

/// <summary>
/// Values the C# side shares with the shaders: Shaders/include/constants.glsl holds the same names in UPPER_SNAKE
/// case (DtF32 -> DT_F32), and Tests/Vulkan/ShaderInterfaceTests.cs checks that the two agree.
/// </summary>
public static class ShaderConstants
{
    /// <summary>Weight dtype codes (<see cref="DTypes.ShaderCode"/>).</summary>
    public const int DtF32 = 0, DtF16 = 1, DtBF16 = 2;

    /// <summary>GEMM epilogues (<see cref="Epilogue"/>).</summary>
    public const int EpiNone = 0, EpiGelu = 1, EpiSilu = 2;

    /// <summary>Elementwise activations (<see cref="ActivationKind"/>).</summary>
    public const int ActGeluTanh = 0, ActSilu = 1;

    /// <summary>The official attention masks add −10000, not −inf (docs/ptdit.md, quirk Q7).</summary>
    public const float MaskBias = -10000f;
}
