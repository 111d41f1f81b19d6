using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Benchmarks;

/// <summary>Binding limits that force the chunked paths on small tensors. Chunk starts align to 256 bytes, the
/// largest offset alignment Vulkan allows, so every device cuts the same chunks.</summary>
static class SmallBindings
{
    public static BindingLimits Of(long bytes) => new((ulong)bytes, 256);

    /// <summary>The limits a kernel-table row records with: the device's (what the kernel's public Record uses) when
    /// <paramref name="maxBindingBytes"/> is 0, else bindings of that many bytes.</summary>
    public static BindingLimits OrDevice(Gpu gpu, int maxBindingBytes) => maxBindingBytes == 0 ? BindingLimits.Of(gpu) : Of(maxBindingBytes);

    /// <summary>What a row's name says of its binding limit: nothing for the device's.</summary>
    public static string Describe(int maxBindingBytes) => maxBindingBytes == 0 ? "" : $" bindings of {maxBindingBytes} B";
}
