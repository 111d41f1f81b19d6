using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Silk.NET.Core.Native;
using Silk.NET.Vulkan;

namespace T2X.Vulkan;

/// <summary>How a shader uses one binding (binding numbers are the positions in the layout).</summary>
public enum Access
{
    /// <summary>Storage buffer the shader only reads.</summary>
    Read,
    /// <summary>Storage buffer the shader writes (and may read).</summary>
    Write,
    /// <summary>Storage texel buffer (imageBuffer, imageLoad) the shader only reads: the fast load path on lavapipe (docs/lavapipe.md §1).</summary>
    ReadTexel,
    /// <summary>Storage image the shader writes (image2D); bound by the presenter, not by <see cref="Sequence"/>.</summary>
    WriteImage,
}

/// <summary>The bindings and push-constant size of a shader.</summary>
public sealed record KernelLayout(Access[] Bindings, int PushBytes)
{
    public static KernelLayout Of(int pushBytes, params Access[] bindings) => new(bindings, pushBytes);
}

/// <summary>A specialization constant that GLSL declares as bool: Vulkan reads it as a 32-bit VkBool32.</summary>
public readonly record struct Bool32(uint Value)
{
    public static implicit operator Bool32(bool b) => new(b ? 1u : 0u);
}

/// <summary>The specialization of a shader whose only constant is its workgroup size (SpecId 0).</summary>
public readonly record struct WorkgroupSpec(uint WorkgroupSize);

/// <summary>A kernel declaration as the shader-interface test reads it (see <see cref="KernelDef{TPush, TSpec}"/>).</summary>
public interface IKernelDef
{
    string Shader { get; }
    KernelLayout Layout { get; }
    Type PushType { get; }
    Type SpecType { get; }
}

/// <summary>
/// One shader as its C# class declares it: the embedded module's name, its bindings, its push-constant block
/// (<typeparamref name="TPush"/>: a record struct, laid out sequentially, of 4-byte fields in the block's order) and its specialization
/// constants (<typeparamref name="TSpec"/>: field i is SpecId i; SpecId 0 is the workgroup size, which every shader
/// takes as <c>local_size_x_id = 0</c>). Sizes come from the types; Tests/Vulkan/ShaderInterfaceTests.cs checks both
/// against the embedded SPIR-V.
/// </summary>
public sealed class KernelDef<TPush, TSpec> : IKernelDef where TPush : unmanaged where TSpec : unmanaged
{
    public string Shader { get; }
    public KernelLayout Layout { get; }
    public Type PushType => typeof(TPush);
    public Type SpecType => typeof(TSpec);

    public KernelDef(string shader, params Access[] bindings)
    {
        Shader = shader;
        Layout = KernelLayout.Of(Unsafe.SizeOf<TPush>(), bindings);
    }

    /// <summary>The pipeline for these specialization constants, created once per device and value.</summary>
    public Kernel Get(Gpu gpu, in TSpec spec) =>
        gpu.Kernel(Shader, Layout, MemoryMarshal.Cast<TSpec, int>(new ReadOnlySpan<TSpec>(in spec)).ToArray());
}

/// <summary>One argument of a dispatch: a buffer range, or a texel view of it.</summary>
public readonly record struct Arg(GpuBuffer Buffer, ulong Offset, ulong Range, Format TexelFormat = Format.Undefined)
{
    public static implicit operator Arg(Tensor t) => new(t.Buffer, t.Offset, t.Bytes);
    public static implicit operator Arg(GpuBuffer b) => new(b, 0, b.Size);

    /// <summary>A texel view of a tensor, e.g. R32G32B32A32Sfloat to read 4 floats per imageLoad.</summary>
    public static Arg Texel(Tensor t, Format format) => new(t.Buffer, t.Offset, t.Bytes, format);
}

/// <summary>A compute pipeline: an embedded SPIR-V shader with its specialization constants and layout.</summary>
public sealed unsafe class Kernel
{
    public readonly string Name;
    public readonly KernelLayout Layout;
    internal readonly Pipeline Pipeline;
    internal readonly PipelineLayout PipelineLayout;
    internal readonly DescriptorSetLayout SetLayout;
    readonly Gpu _gpu;

    internal Kernel(Gpu gpu, string shader, KernelLayout layout, int[] specialization)
    {
        _gpu = gpu;
        Name = shader;
        Layout = layout;
        var vk = gpu.Vk;
        byte[] code = LoadSpirv(shader);

        var bindings = new DescriptorSetLayoutBinding[layout.Bindings.Length];
        for (int i = 0; i < bindings.Length; i++)
            bindings[i] = new DescriptorSetLayoutBinding
            {
                Binding = (uint)i,
                DescriptorType = DescriptorTypeOf(layout.Bindings[i]),
                DescriptorCount = 1,
                StageFlags = ShaderStageFlags.ComputeBit,
            };
        fixed (DescriptorSetLayoutBinding* pb = bindings)
        {
            var setInfo = new DescriptorSetLayoutCreateInfo
            {
                SType = StructureType.DescriptorSetLayoutCreateInfo,
                BindingCount = (uint)bindings.Length,
                PBindings = pb,
            };
            vk.CreateDescriptorSetLayout(gpu.Device, in setInfo, null, out SetLayout).Check("vkCreateDescriptorSetLayout");
        }

        var range = new PushConstantRange { StageFlags = ShaderStageFlags.ComputeBit, Offset = 0, Size = (uint)layout.PushBytes };
        var setLayout = SetLayout;
        var layoutInfo = new PipelineLayoutCreateInfo
        {
            SType = StructureType.PipelineLayoutCreateInfo,
            SetLayoutCount = 1,
            PSetLayouts = &setLayout,
            PushConstantRangeCount = layout.PushBytes > 0 ? 1u : 0u,
            PPushConstantRanges = &range,
        };
        vk.CreatePipelineLayout(gpu.Device, in layoutInfo, null, out PipelineLayout).Check("vkCreatePipelineLayout");

        ShaderModule module;
        fixed (byte* pc = code)
        {
            var moduleInfo = new ShaderModuleCreateInfo { SType = StructureType.ShaderModuleCreateInfo, CodeSize = (nuint)code.Length, PCode = (uint*)pc };
            vk.CreateShaderModule(gpu.Device, in moduleInfo, null, out module).Check($"vkCreateShaderModule({shader})");
        }

        var entries = new SpecializationMapEntry[specialization.Length];
        for (int i = 0; i < entries.Length; i++)
            entries[i] = new SpecializationMapEntry { ConstantID = (uint)i, Offset = (uint)(4 * i), Size = 4 };
        var main = SilkMarshal.StringToPtr("main");
        try
        {
            fixed (SpecializationMapEntry* pe = entries)
            fixed (int* pd = specialization)
            {
                var spec = new SpecializationInfo
                {
                    MapEntryCount = (uint)entries.Length,
                    PMapEntries = pe,
                    DataSize = (nuint)(4 * specialization.Length),
                    PData = pd,
                };
                var info = new ComputePipelineCreateInfo
                {
                    SType = StructureType.ComputePipelineCreateInfo,
                    Layout = PipelineLayout,
                    Stage = new PipelineShaderStageCreateInfo
                    {
                        SType = StructureType.PipelineShaderStageCreateInfo,
                        Stage = ShaderStageFlags.ComputeBit,
                        Module = module,
                        PName = (byte*)main,
                        PSpecializationInfo = specialization.Length > 0 ? &spec : null,
                    },
                };
                vk.CreateComputePipelines(gpu.Device, default, 1, in info, null, out Pipeline).Check($"vkCreateComputePipelines({shader})");
            }
        }
        finally
        {
            SilkMarshal.Free(main);
            vk.DestroyShaderModule(gpu.Device, module, null);
        }
    }

    internal static DescriptorType DescriptorTypeOf(Access a) => a switch
    {
        Access.ReadTexel => DescriptorType.StorageTexelBuffer,
        Access.WriteImage => DescriptorType.StorageImage,
        _ => DescriptorType.StorageBuffer,
    };

    static byte[] LoadSpirv(string shader)
    {
        var asm = typeof(Kernel).Assembly;
        using var s = asm.GetManifestResourceStream(shader + ".spv")
            ?? throw new VulkanException($"shader {shader}.spv is not embedded in {asm.GetName().Name} (is Shaders/{shader}.comp missing?)");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    internal void Destroy()
    {
        _gpu.Vk.DestroyPipeline(_gpu.Device, Pipeline, null);
        _gpu.Vk.DestroyPipelineLayout(_gpu.Device, PipelineLayout, null);
        _gpu.Vk.DestroyDescriptorSetLayout(_gpu.Device, SetLayout, null);
    }
}
