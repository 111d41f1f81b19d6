using T2X.Vulkan.Kernels;

namespace T2X.Tests.Kernels;

/// <summary>Binding limits that force the chunked paths on small tensors. Chunk starts align to 256 bytes, the
/// largest offset alignment Vulkan allows, so every device cuts the same chunks.</summary>
static class SmallBindings
{
    public static BindingLimits Of(long bytes) => new((ulong)bytes, 256);
}
