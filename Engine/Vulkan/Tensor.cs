namespace T2X.Vulkan;

/// <summary>How a tensor's elements lie in its memory.</summary>
public enum TensorLayout
{
    /// <summary>Row-major, last axis fastest: what every kernel reads unless it says otherwise.</summary>
    RowMajor,
    /// <summary>A GEMM weight [N, K] reordered into the panels the CPU GEMM reads (<see cref="Kernels.GemmPanels"/>);
    /// only <see cref="Kernels.Gemm"/> reads it.</summary>
    GemmPanels,
}

/// <summary>A tensor on the device: a buffer, a byte offset, a shape (row-major, last axis fastest, unless
/// <see cref="Layout"/> says otherwise) and a dtype.</summary>
public sealed class Tensor
{
    public readonly GpuBuffer Buffer;
    public readonly ulong Offset;
    public readonly long[] Shape;
    public readonly DType DType;
    public TensorLayout Layout { get; private init; }

    public Tensor(GpuBuffer buffer, ulong offset, DType dtype, params long[] shape)
    {
        Buffer = buffer;
        Offset = offset;
        DType = dtype;
        Shape = shape;
        if (offset + Bytes > buffer.Size)
            throw new ArgumentException($"tensor [{string.Join(",", shape)}] {dtype} at offset {offset} does not fit in a buffer of {buffer.Size} bytes");
    }

    Tensor(DType dtype, long[] shape)
    {
        Buffer = null!;
        DType = dtype;
        Shape = shape;
    }

    /// <summary>A shape and dtype with no memory behind it: what a measuring <see cref="TensorArena"/> hands out.</summary>
    internal static Tensor Unbacked(DType dtype, long[] shape) => new(dtype, shape);

    /// <summary>Allocates a tensor in its own buffer.</summary>
    public static Tensor Create(Gpu gpu, DType dtype, params long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        return new Tensor(new GpuBuffer(gpu, (ulong)(n * dtype.Size())), 0, dtype, shape);
    }

    /// <summary>Allocates a tensor in host-visible memory: for small inputs rewritten between submissions (timesteps,
    /// step sizes), which the host then writes directly instead of through a staging copy and a wait.</summary>
    public static Tensor CreateHostVisible(Gpu gpu, DType dtype, params long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        return new Tensor(new GpuBuffer(gpu, (ulong)(n * dtype.Size()), hostVisible: true), 0, dtype, shape);
    }

    /// <summary>Allocates an f32 tensor and uploads the values.</summary>
    public static Tensor FromArray(Gpu gpu, ReadOnlySpan<float> values, params long[] shape)
    {
        var t = Create(gpu, DType.F32, shape);
        if (values.Length != t.Elements) throw new ArgumentException($"{values.Length} values for shape [{string.Join(",", shape)}]");
        t.Buffer.Upload(values, t.Offset);
        return t;
    }

    public long Elements
    {
        get { long n = 1; foreach (var d in Shape) n *= d; return n; }
    }

    public ulong Bytes => (ulong)(Elements * DType.Size());

    public int Rank => Shape.Length;

    public long Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];

    /// <summary>Rows when viewed as a 2-D matrix [rows, last axis].</summary>
    public long Rows => Elements / Math.Max(1, Shape[^1]);

    /// <summary>The same memory, declared to hold its elements in another layout (the caller wrote them so).</summary>
    internal Tensor WithLayout(TensorLayout layout) => new(Buffer, Offset, DType, Shape) { Layout = layout };

    void RequireRowMajor(string what)
    {
        if (Layout != TensorLayout.RowMajor)
            throw new InvalidOperationException($"{what} needs a row-major tensor; this {this} is laid out as {Layout}");
    }

    /// <summary>The same memory under another shape with the same element count. A GEMM weight in panels keeps its
    /// layout and may change only its axes after the first (a convolution's [Cout, kt, kh, kw, Cin] read as [Cout, K]).</summary>
    public Tensor Reshape(params long[] shape)
    {
        if (Layout == TensorLayout.GemmPanels && (shape.Length < 2 || shape[0] != Shape[0]))
            throw new InvalidOperationException($"Reshape of a {Layout} tensor {this} must keep its first axis; [{string.Join(",", shape)}] does not");
        var t = new Tensor(Buffer, Offset, DType, shape) { Layout = Layout };
        if (t.Elements != Elements) throw new ArgumentException($"cannot reshape [{string.Join(",", Shape)}] to [{string.Join(",", shape)}]");
        return t;
    }

    /// <summary>A contiguous slice of rows along the first axis.</summary>
    public Tensor Slice(long start, long count)
    {
        RequireRowMajor("Slice");
        long inner = Elements / Shape[0];
        var shape = (long[])Shape.Clone();
        shape[0] = count;
        return new Tensor(Buffer, Offset + (ulong)(start * inner * DType.Size()), DType, shape);
    }

    public float[] ToArray()
    {
        if (DType != DType.F32) throw new InvalidOperationException($"ToArray reads f32 tensors; this one is {DType}");
        RequireRowMajor("ToArray");
        var a = new float[Elements];
        Buffer.Download<float>(a, Offset);
        return a;
    }

    public void Upload(ReadOnlySpan<float> values)
    {
        if (DType != DType.F32 || values.Length != Elements) throw new ArgumentException($"expected {Elements} f32 values");
        RequireRowMajor("Upload");
        Buffer.Upload(values, Offset);
    }

    public override string ToString() => $"{DType}[{string.Join(",", Shape)}]" + (Layout == TensorLayout.RowMajor ? "" : $" ({Layout})");
}
