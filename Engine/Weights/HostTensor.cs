using System.Runtime.InteropServices;

namespace T2X.Vulkan.Weights;

/// <summary>A tensor in host memory: dtype, shape, and its contiguous row-major little-endian bytes.</summary>
public sealed class HostTensor
{
    public readonly DType DType;
    public readonly long[] Shape;
    public readonly byte[] Bytes;

    public HostTensor(DType dtype, long[] shape, byte[] bytes)
    {
        DType = dtype;
        Shape = shape;
        Bytes = bytes;
        if ((long)bytes.Length != Elements * dtype.Size())
            throw new ArgumentException($"{bytes.Length} bytes for {dtype}[{string.Join(",", shape)}]");
    }

    public long Elements
    {
        get { long n = 1; foreach (var d in Shape) n *= d; return n; }
    }

    public static HostTensor FromFloat32(float[] values, params long[] shape)
        => new(DType.F32, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>The values as f32 (f16 and bf16 widen exactly; integers convert).</summary>
    public float[] ToFloat32()
    {
        var result = new float[Elements];
        switch (DType)
        {
            case DType.F32: MemoryMarshal.Cast<byte, float>(Bytes).CopyTo(result); break;
            case DType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(Bytes);
                for (int i = 0; i < result.Length; i++) result[i] = (float)h[i];
                break;
            case DType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(Bytes);
                for (int i = 0; i < result.Length; i++) result[i] = BFloat16.ToFloat(b[i]);
                break;
            case DType.I32:
                var i32 = MemoryMarshal.Cast<byte, int>(Bytes);
                for (int i = 0; i < result.Length; i++) result[i] = i32[i];
                break;
            case DType.I64:
                var i64 = MemoryMarshal.Cast<byte, long>(Bytes);
                for (int i = 0; i < result.Length; i++) result[i] = i64[i];
                break;
            case DType.U8:
                for (int i = 0; i < result.Length; i++) result[i] = Bytes[i];
                break;
        }
        return result;
    }

    /// <summary>The values as f64 (for CPU references).</summary>
    public double[] ToFloat64() => Array.ConvertAll(ToFloat32(), x => (double)x);

    /// <summary>Converts to another floating dtype with round-to-nearest-even.</summary>
    public HostTensor To(DType dtype)
    {
        if (dtype == DType) return this;
        var f = ToFloat32();
        byte[] bytes = dtype switch
        {
            DType.F32 => MemoryMarshal.AsBytes(f.AsSpan()).ToArray(),
            DType.F16 => MemoryMarshal.AsBytes(Array.ConvertAll(f, x => (Half)x).AsSpan()).ToArray(),
            DType.BF16 => MemoryMarshal.AsBytes(Array.ConvertAll(f, BFloat16.FromFloat).AsSpan()).ToArray(),
            _ => throw new NotSupportedException($"conversion to {dtype}"),
        };
        return new HostTensor(dtype, Shape, bytes);
    }

    public override string ToString() => $"{DType}[{string.Join(",", Shape)}]";
}

/// <summary>bfloat16 conversions (the upper 16 bits of an f32, rounded to nearest even).</summary>
public static class BFloat16
{
    public static float ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    public static ushort FromFloat(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x)) return (ushort)((u >> 16) | 0x40);
        u += 0x7FFF + ((u >> 16) & 1);
        return (ushort)(u >> 16);
    }

    public static float Round(float x) => ToFloat(FromFloat(x));
}

/// <summary>Name, dtype and shape of one stored tensor, known without reading its data.</summary>
public sealed record TensorInfo(string Name, DType DType, long[] Shape)
{
    public long Elements { get { long n = 1; foreach (var d in Shape) n *= d; return n; } }
    public override string ToString() => $"{Name}  {DType}  [{string.Join(", ", Shape)}]";
}

/// <summary>
/// A checkpoint opened for reading: safetensors (single or sharded) or a torch.save zip.
/// Tensors are read one at a time, so a checkpoint larger than host memory can still be uploaded.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>Every tensor, in the file's order.</summary>
    IReadOnlyList<TensorInfo> Tensors { get; }
    /// <summary>Reads one tensor's data (contiguous, in its stored dtype).</summary>
    HostTensor Read(string name);
    /// <summary>A hint that these tensors will be read soon: a file-backed source asks the OS to start reading their
    /// bytes from disk in the background (<see cref="Files.ReadAhead"/>), so that a later <see cref="Read"/> finds them in
    /// memory. Unknown names are skipped; it never throws. By default it does nothing.</summary>
    void Prefetch(IEnumerable<string> names) { }
}
