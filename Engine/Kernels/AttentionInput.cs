using Silk.NET.Vulkan;

namespace T2X.Vulkan.Kernels;

/// <summary>
/// Queries, keys or values of an attention: the f32 tensor [B, N, C] whose head h uses channels
/// [ChannelOffset + h·d, ChannelOffset + h·d + d). Q, K and V may be column slices of one fused projection output,
/// e.g. (qkv, 0), (qkv, H·d), (qkv, 2·H·d) for qkv [B, N, 3·H·d].
/// </summary>
public readonly record struct AttentionInput(Tensor Tensor, int ChannelOffset = 0)
{
    public static implicit operator AttentionInput(Tensor t) => new(t);
}

/// <summary>Kernel variants of the attention shaders (see Shaders/include/attention_core.glsl).</summary>
public enum AttentionVariant
{
    /// <summary>Subgroup on CPU devices (lavapipe), shared memory on GPUs.</summary>
    Auto,
    /// <summary>One subgroup per workgroup; keys and values move between lanes by subgroupShuffle.</summary>
    Subgroup,
    /// <summary>A workgroup that stages blocks of keys and values in shared memory.</summary>
    SharedMemory,
}

public static class AttentionVariants
{
    /// <summary>The variant <see cref="AttentionVariant.Auto"/> stands for on a device: subgroup on CPU devices, shared memory on GPUs.</summary>
    public static AttentionVariant Resolve(this AttentionVariant variant, DeviceInfo info) =>
        variant != AttentionVariant.Auto ? variant : info.IsCpu ? AttentionVariant.Subgroup : AttentionVariant.SharedMemory;
}

/// <summary>SpecIds 0–4 of Shaders/include/attention_core.glsl: lanes (the workgroup size), head dim / 4, query rows per
/// invocation, keys per block, and whether the workgroup stages keys and values in shared memory. The attention shaders'
/// own constants follow from SpecId 5.</summary>
readonly record struct AttentionCoreSpec(uint Lanes, uint D4, uint Rows, uint KeysPerBlock, Bool32 SharedKv);

/// <summary>What the dense and the window attention kernels share: variant choice, input checks, texel bindings.</summary>
static class AttentionSetup
{
    /// <summary>Query rows per invocation in the subgroup variant: each broadcast key element feeds this many rows.
    /// 8 rows of head dim 72 was fastest on lavapipe; wider heads get fewer rows so that the unrolled code (and the
    /// JIT's compile time) stays about that size.</summary>
    static int SubgroupRows(int headDim) => Math.Clamp(8 * 72 / headDim, 1, 8);

    const int SharedLanes = 64;

    /// <summary>The specialization constants of attention_core.glsl, and the queries one workgroup covers.</summary>
    public static (AttentionCoreSpec spec, int queriesPerGroup) Variant(Gpu gpu, AttentionVariant variant, int headDim)
    {
        var info = gpu.Info;
        variant = variant.Resolve(info);
        int d4 = headDim / 4;
        if (variant == AttentionVariant.Subgroup)
        {
            int lanes = (int)info.SubgroupSize;
            if (lanes < 1 || lanes > 128)
                throw new NotSupportedException($"attention: subgroup variant needs a subgroup size in 1..128; {info.Name} reports {lanes}");
            int rows = SubgroupRows(headDim);
            return (new((uint)lanes, (uint)d4, (uint)rows, (uint)lanes, false), lanes * rows);
        }
        // Largest key block whose K and V rows (and per-key bias and label) fit in shared memory.
        int keys = 16;
        while (keys > 1 && keys * (2 * headDim * 4 + 8) > info.MaxSharedMemory) keys /= 2;
        if (keys * (2 * headDim * 4 + 8) > info.MaxSharedMemory)
            throw new NotSupportedException($"attention: head dim {headDim} needs more shared memory than {info.Name} has ({info.MaxSharedMemory} bytes)");
        return (new(SharedLanes, (uint)d4, 1, (uint)keys, true), SharedLanes);
    }

    /// <summary>Checks one input tensor [B, N, C] and its channel slice.</summary>
    public static void CheckInput(string op, string name, AttentionInput x, long batch, long tokens, int heads, int headDim)
    {
        var t = x.Tensor;
        if (t.DType != DType.F32 || t.Rank != 3 || t.Shape[0] != batch || t.Shape[1] != tokens)
            throw new ArgumentException($"{op}: {name} must be f32 [{batch}, {tokens}, C]; got {t}");
        long c = t.Shape[2];
        if (c % 4 != 0)
            throw new ArgumentException($"{op}: {name} row width {c} must be a multiple of 4");
        if (x.ChannelOffset < 0 || x.ChannelOffset % 4 != 0 || x.ChannelOffset + (long)heads * headDim > c)
            throw new ArgumentException($"{op}: {name} channel offset {x.ChannelOffset} must be a non-negative multiple of 4 with offset + heads·head_dim ({heads}·{headDim}) ≤ row width {c}");
        if (t.Offset % 16 != 0)
            throw new ArgumentException($"{op}: {name} starts at byte {t.Offset} of its buffer; texel loads need a multiple of 16");
    }

    public static void CheckHeads(string op, int heads, int headDim)
    {
        if (heads < 1 || heads > 65535) throw new ArgumentException($"{op}: heads must be in 1..65535; got {heads}");
        if (headDim < 4 || headDim % 4 != 0) throw new ArgumentException($"{op}: head_dim must be a positive multiple of 4; got {headDim}");
    }

    /// <summary>
    /// A vec4 texel view of an input and the texel index of its row 0's head-0 channel. The view starts at the
    /// tensor's offset rounded down to the device's offset alignment.
    /// </summary>
    public static (Arg arg, int baseTexel, int strideTexels) Texels(string op, string name, Gpu gpu, AttentionInput x)
    {
        var t = x.Tensor;
        ulong start = t.Offset / gpu.Info.OffsetAlignment * gpu.Info.OffsetAlignment;
        ulong range = t.Offset + t.Bytes - start;
        if (range / 16 > gpu.Info.MaxTexelBufferElements)
            throw new ArgumentException($"{op}: {name} spans {range / 16} texels, more than this device's maxTexelBufferElements ({gpu.Info.MaxTexelBufferElements})");
        int baseTexel = checked((int)((t.Offset - start) / 16) + x.ChannelOffset / 4);
        return (new Arg(t.Buffer, start, range, Format.R32G32B32A32Sfloat), baseTexel, checked((int)(t.Shape[2] / 4)));
    }
}
