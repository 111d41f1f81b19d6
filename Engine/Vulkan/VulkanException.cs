using Silk.NET.Vulkan;

namespace T2X.Vulkan;

/// <summary>A Vulkan call failed; the message names the call and its result.</summary>
public sealed class VulkanException(string message) : Exception(message)
{
}

internal static class VkCheck
{
    /// <summary>Throws with the call's name when a Vulkan call does not return Success.</summary>
    public static void Check(this Result result, string call)
    {
        if (result != Result.Success)
            throw new VulkanException($"{call} failed: {result}");
    }
}
