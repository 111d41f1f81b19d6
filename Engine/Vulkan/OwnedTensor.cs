namespace T2X.Vulkan;

/// <summary>
/// A device tensor with a buffer of its own, freed on Dispose: what a method that allocates a tensor for its caller
/// hands out, so the caller writes <c>using var</c> instead of freeing the buffer by hand. A tensor from an arena
/// (<see cref="TensorArena"/>) or a view of another tensor is a plain <see cref="Tensor"/>: its owner frees it.
/// </summary>
public sealed class OwnedTensor(Tensor t) : IDisposable
{
    public Tensor T { get; } = t;
    public long[] Shape => T.Shape;
    public float[] ToArray() => T.ToArray();

    public static OwnedTensor Create(Gpu gpu, DType dtype, params long[] shape) => new(Tensor.Create(gpu, dtype, shape));

    public static OwnedTensor FromArray(Gpu gpu, ReadOnlySpan<float> values, params long[] shape) => new(Tensor.FromArray(gpu, values, shape));

    /// <summary>Frees the tensor <paramref name="held"/> holds and puts a new one in its place; <paramref name="held"/>
    /// stays null when the allocation fails, so nothing is freed twice.</summary>
    public static OwnedTensor Replace(ref OwnedTensor? held, Func<OwnedTensor> allocate)
    {
        held?.Dispose();
        held = null;
        return held = allocate();
    }

    public void Dispose() => T.Buffer?.Dispose();   // a measuring run's tensors have no buffer
}
