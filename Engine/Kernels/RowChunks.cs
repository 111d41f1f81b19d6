namespace T2X.Vulkan.Kernels;

/// <summary>How large one storage binding may be and where it may start: the device's values (<see cref="Of"/>), or
/// smaller and coarser ones tests pass to run the chunked paths on small tensors.</summary>
internal readonly record struct BindingLimits(ulong MaxBytes, ulong Alignment)
{
    public static BindingLimits Of(Gpu gpu) => new(RowChunks.BindingLimit(gpu), gpu.Info.OffsetAlignment);
}

/// <summary>
/// Splits a row-major tensor's rows into chunks that each fit one binding (maxStorageBufferRange), for
/// kernels whose inputs can outgrow a descriptor (hidden states at large resolutions). Chunk starts stay
/// aligned to the limits' offset alignment.
/// </summary>
static class RowChunks
{
    public static IEnumerable<(long start, long count)> Of(string op, long rows, long rowBytes, BindingLimits limits)
    {
        ulong maxBytes = limits.MaxBytes;
        long perChunk = (long)Math.Min((ulong)long.MaxValue, maxBytes) / Math.Max(1, rowBytes);
        if (perChunk < rows) perChunk -= perChunk % AlignedRows(limits.Alignment, rowBytes);
        if (perChunk <= 0) throw new ArgumentException($"{op}: one row of {rowBytes} bytes does not fit a binding of {maxBytes} bytes");
        for (long start = 0; start < rows; start += perChunk)
            yield return (start, Math.Min(perChunk, rows - start));
    }

    /// <summary>The smallest number of rows whose bytes are a multiple of the alignment.</summary>
    public static long AlignedRows(ulong alignment, long rowBytes)
        => (long)alignment / (long)System.Numerics.BigInteger.GreatestCommonDivisor(alignment, (ulong)Math.Max(1, rowBytes));

    /// <summary>The largest binding a row kernel may use on this device.</summary>
    public static ulong BindingLimit(Gpu gpu) => Math.Min(gpu.Info.MaxStorageBufferRange, gpu.MaxStorageBindingBytes ?? ulong.MaxValue);
}
