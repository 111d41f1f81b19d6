namespace T2X.Vulkan.Kernels;

/// <summary>Workgroup counts for row kernels launched as (column groups, rows): the row count is spread
/// over y and z so each stays under 65535; shaders rebuild the row as y + z·numGroupsY.</summary>
static class RowGrid
{
    public static (uint x, uint y, uint z) Of(long columns, long perGroup, long rows)
    {
        uint x = Grid.Groups(columns, perGroup);
        var (y, z) = Grid.Split(rows, 1);
        return (x, y, z);
    }
}
