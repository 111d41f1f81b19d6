namespace T2X.Vulkan.Kernels;

/// <summary>
/// Splits a row-major tensor's rows into chunks that each fit one binding (maxStorageBufferRange), for
/// kernels whose inputs can outgrow a descriptor (hidden states at large resolutions). Chunk starts stay
/// 256-byte aligned, the largest offset alignment Vulkan allows for storage and texel buffers.
/// </summary>
static class RowChunks
{
    public static IEnumerable<(long start, long count)> Of(string op, long rows, long rowBytes, ulong maxBytes)
    {
        long perChunk = (long)Math.Min((ulong)long.MaxValue, maxBytes) / Math.Max(1, rowBytes);
        if (perChunk < rows)
        {
            long align = 256 / (long)System.Numerics.BigInteger.GreatestCommonDivisor(256, Math.Max(1, rowBytes));
            perChunk -= perChunk % align;
        }
        if (perChunk <= 0) throw new ArgumentException($"{op}: one row of {rowBytes} bytes does not fit a binding of {maxBytes} bytes");
        for (long start = 0; start < rows; start += perChunk)
            yield return (start, Math.Min(perChunk, rows - start));
    }

    /// <summary>The largest binding a row kernel may use on this device.</summary>
    public static ulong BindingLimit(Gpu gpu) => Math.Min(gpu.Info.MaxStorageBufferRange, MaxStorageBytes ?? ulong.MaxValue);

    /// <summary>Tests lower the storage-binding limit (not the texel-view one) to run the chunked paths on small tensors.</summary>
    internal static ulong? MaxStorageBytes;
}
