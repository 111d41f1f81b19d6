namespace T2X.Vulkan.Kernels;

/// <summary>Workgroup-count arithmetic shared by the kernels.</summary>
public static class Grid
{
    public static uint Groups(long n, long perGroup) => checked((uint)((n + perGroup - 1) / perGroup));

    /// <summary>Splits a 1-D launch into (x, y) groups so x stays under the 65535 guaranteed limit;
    /// shaders rebuild the flat index as x + y·numGroupsX·localSize.</summary>
    public static (uint x, uint y) Split(long n, long perGroup)
    {
        long groups = (n + perGroup - 1) / perGroup;
        if (groups <= 65535) return ((uint)Math.Max(1, groups), 1);
        long y = (groups + 65534) / 65535;
        return ((uint)((groups + y - 1) / y), (uint)y);
    }
}
