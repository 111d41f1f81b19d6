using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Silk.NET.Core.Native;
using Silk.NET.Vulkan;

namespace T2X.Vulkan;

/// <summary>Options for opening a device.</summary>
public sealed record GpuOptions
{
    /// <summary>Device index (as listed by <see cref="Gpu.ListDevices"/>) or a case-insensitive part of its name.
    /// Null: the T2X_DEVICE environment variable, else the best device (discrete, integrated, virtual, CPU).</summary>
    public string? Device { get; init; }

    /// <summary>Enable the Khronos validation layer; every message is collected in <see cref="Gpu.ValidationMessages"/>.
    /// Null: on when T2X_VALIDATION=1.</summary>
    public bool? Validation { get; init; }

    /// <summary>Extra instance extensions (the viewer adds the surface extensions GLFW asks for).</summary>
    public IReadOnlyList<string> InstanceExtensions { get; init; } = [];

    /// <summary>Extra device extensions (the viewer adds VK_KHR_swapchain).</summary>
    public IReadOnlyList<string> DeviceExtensions { get; init; } = [];

    /// <summary>Tests lower the storage-binding limit the kernels split their work by (not maxStorageBufferRange
    /// itself, nor the texel-view limit) to run the chunked paths of a whole model on small tensors.</summary>
    internal ulong? MaxStorageBindingBytes { get; init; }
}

/// <summary>What a device is and what it allows, read from the device itself. OffsetAlignment is where a binding may
/// start: the larger of minStorageBufferOffsetAlignment and minTexelBufferOffsetAlignment, so that one value serves
/// storage and texel bindings alike.</summary>
public sealed record DeviceInfo(
    int Index, string Name, PhysicalDeviceType Type, string Driver, uint ApiVersion,
    ulong MaxStorageBufferRange, uint MaxTexelBufferElements, uint MaxSharedMemory, uint SubgroupSize,
    uint MaxWorkgroupInvocations, ulong DeviceLocalBytes, bool UnifiedMemory, bool Float16, float TimestampPeriod,
    ulong OffsetAlignment)
{
    /// <summary>The largest offset alignment Vulkan lets a device require (minStorageBufferOffsetAlignment and
    /// minTexelBufferOffsetAlignment are at most 256). Weights and arenas pack tensors at it, so a memory plan made
    /// without a device (<see cref="TensorArena"/>'s measuring mode, the VAE's weight bytes) equals what any device
    /// allocates.</summary>
    public const ulong MaxOffsetAlignment = 256;

    /// <summary><paramref name="bytes"/> rounded up to <see cref="MaxOffsetAlignment"/>.</summary>
    public static ulong PackedBytes(ulong bytes) => (bytes + MaxOffsetAlignment - 1) / MaxOffsetAlignment * MaxOffsetAlignment;

    public string TypeName => Type switch
    {
        PhysicalDeviceType.DiscreteGpu => "discrete GPU",
        PhysicalDeviceType.IntegratedGpu => "integrated GPU",
        PhysicalDeviceType.VirtualGpu => "virtual GPU",
        PhysicalDeviceType.Cpu => "CPU",
        _ => "other",
    };

    /// <summary>Device class used to pick kernel variants: CPU rasterizers (lavapipe, SwiftShader) want other kernels than GPUs.</summary>
    public bool IsCpu => Type == PhysicalDeviceType.Cpu;

    public override string ToString() =>
        $"[{Index}] {Name} ({TypeName}, {Driver}, Vulkan {ApiVersion >> 22}.{(ApiVersion >> 12) & 0x3ff})";
}

/// <summary>
/// The one Vulkan device the engine runs on: instance, device, compute queue, memory types and limits.
/// Everything else (buffers, kernels, sequences) is created from a Gpu.
/// </summary>
public sealed unsafe partial class Gpu : IDisposable
{
    public readonly Vk Vk;
    public readonly Instance Instance;
    public readonly PhysicalDevice PhysicalDevice;
    public readonly Device Device;
    public readonly Queue Queue;
    public readonly uint QueueFamily;
    public readonly DeviceInfo Info;
    /// <summary>See <see cref="GpuOptions.MaxStorageBindingBytes"/>.</summary>
    internal readonly ulong? MaxStorageBindingBytes;

    /// <summary>Validation messages (warnings and errors) seen since the device was opened.</summary>
    public IReadOnlyList<string> ValidationMessages
    {
        get { lock (_messages) return _messages.ToArray(); }
    }
    public void ClearValidationMessages() { lock (_messages) _messages.Clear(); }
    public bool ValidationEnabled { get; }

    internal readonly PhysicalDeviceMemoryProperties MemoryProperties;
    internal readonly object QueueLock = new();
    readonly List<string> _messages = [];
    readonly DebugUtilsMessengerEXT _messenger;
    readonly GCHandle _self;
    readonly Dictionary<string, Kernel> _kernels = [];
    bool _disposed;

    const string ValidationLayer = "VK_LAYER_KHRONOS_validation";

    public Gpu(GpuOptions? options = null)
    {
        options ??= new GpuOptions();
        MaxStorageBindingBytes = options.MaxStorageBindingBytes;
        Vk = Vk.GetApi();
        ValidationEnabled = options.Validation ?? Environment.GetEnvironmentVariable("T2X_VALIDATION") == "1";
        if (ValidationEnabled && !HasLayer(Vk, ValidationLayer))
            throw new VulkanException("the Khronos validation layer is not installed (Debian package vulkan-validationlayers)");

        var instanceExtensions = new List<string>(options.InstanceExtensions);
        if (ValidationEnabled) instanceExtensions.Add("VK_EXT_debug_utils");
        Instance = CreateInstance(Vk, instanceExtensions, ValidationEnabled);

        _self = GCHandle.Alloc(this);
        if (ValidationEnabled) _messenger = CreateMessenger();

        var devices = EnumerateDevices(Vk, Instance);
        if (devices.Length == 0)
            throw new VulkanException("no Vulkan device found: install a driver (on a CPU-only machine: Debian package mesa-vulkan-drivers)");
        var infos = devices.Select((d, i) => Describe(Vk, d, i)).ToArray();
        int chosen = Choose(infos, options.Device ?? Environment.GetEnvironmentVariable("T2X_DEVICE"));
        PhysicalDevice = devices[chosen];
        Info = infos[chosen];
        RefuseWideLavapipe(Info);
        Vk.GetPhysicalDeviceMemoryProperties(PhysicalDevice, out MemoryProperties);

        QueueFamily = FindComputeQueue();
        Device = CreateDevice(options.DeviceExtensions);
        Vk.GetDeviceQueue(Device, QueueFamily, 0, out Queue);
    }

    /// <summary>Environment variable that lets <see cref="RefuseWideLavapipe"/> pass, for a lavapipe whose 512-bit
    /// mode the test suite has shown to be correct.</summary>
    public const string AllowWideLavapipe = "T2X_ALLOW_WIDE_LAVAPIPE";

    /// <summary>lavapipe with 512-bit vectors (LP_NATIVE_VECTOR_WIDTH=512: subgroups of 16) computes wrong results in
    /// this engine's subgroup reductions and shuffles (measured with Mesa 25.0.7 and LLVM 15 on an AVX-512 CPU:
    /// LayerNorm, attention and 16-lane GEMM tests fail), so an image would come out wrong with no error. Refuse.</summary>
    static void RefuseWideLavapipe(DeviceInfo info)
    {
        if (info.Driver != "llvmpipe" || info.SubgroupSize <= 8 || Environment.GetEnvironmentVariable(AllowWideLavapipe) == "1") return;
        throw new VulkanException($"{info.Name}: lavapipe with {info.SubgroupSize * 32}-bit vectors computes wrong results for "
            + $"this engine's kernels; unset LP_NATIVE_VECTOR_WIDTH (or set it to 256). {AllowWideLavapipe}=1 runs anyway, "
            + "for a Mesa whose wide mode passes the test suite");
    }

    /// <summary>Lists the Vulkan devices of this machine without opening any.</summary>
    public static DeviceInfo[] ListDevices()
    {
        var vk = Vk.GetApi();
        var instance = CreateInstance(vk, [], false);
        try
        {
            return EnumerateDevices(vk, instance).Select((d, i) => Describe(vk, d, i)).ToArray();
        }
        finally { vk.DestroyInstance(instance, null); }
    }

    /// <summary>Loads an instance-level function that Silk.NET's core package does not expose (debug utils, surfaces).</summary>
    public IntPtr InstanceFunction(string name)
    {
        var p = (IntPtr)Vk.GetInstanceProcAddr(Instance, name).Handle;
        if (p == IntPtr.Zero) throw new VulkanException($"vkGetInstanceProcAddr: {name} is not available");
        return p;
    }

    /// <summary>Loads a device-level function that Silk.NET's core package does not expose (swapchain).</summary>
    public IntPtr DeviceFunction(string name)
    {
        var p = (IntPtr)Vk.GetDeviceProcAddr(Device, name).Handle;
        if (p == IntPtr.Zero) throw new VulkanException($"vkGetDeviceProcAddr: {name} is not available");
        return p;
    }

    /// <summary>The pipeline for a shader with given specialization constants, created once and cached.</summary>
    public Kernel Kernel(string shader, KernelLayout layout, params int[] specialization)
    {
        // The layout is part of the key: one shader bound two ways is two pipelines.
        string key = $"{shader}:{string.Join(",", specialization)}:{string.Join(",", layout.Bindings)}:{layout.PushBytes}";
        lock (_kernels)
        {
            if (!_kernels.TryGetValue(key, out var k))
                _kernels[key] = k = new Kernel(this, shader, layout, specialization);
            return k;
        }
    }

    static bool HasLayer(Vk vk, string name)
    {
        uint count = 0;
        vk.EnumerateInstanceLayerProperties(ref count, null);
        var layers = new LayerProperties[count];
        fixed (LayerProperties* p = layers) vk.EnumerateInstanceLayerProperties(ref count, p);
        foreach (var l in layers)
            if (SilkMarshal.PtrToString((nint)l.LayerName) == name) return true;
        return false;
    }

    static Instance CreateInstance(Vk vk, IReadOnlyList<string> extensions, bool validation)
    {
        var appName = SilkMarshal.StringToPtr("t2x");
        var app = new ApplicationInfo
        {
            SType = StructureType.ApplicationInfo,
            PApplicationName = (byte*)appName,
            PEngineName = (byte*)appName,
            ApiVersion = Vk.Version12,
        };
        var ext = SilkMarshal.StringArrayToPtr(extensions.ToArray());
        var layers = SilkMarshal.StringArrayToPtr(validation ? [ValidationLayer] : Array.Empty<string>());
        try
        {
            var info = new InstanceCreateInfo
            {
                SType = StructureType.InstanceCreateInfo,
                PApplicationInfo = &app,
                EnabledExtensionCount = (uint)extensions.Count,
                PpEnabledExtensionNames = (byte**)ext,
                EnabledLayerCount = validation ? 1u : 0u,
                PpEnabledLayerNames = (byte**)layers,
            };
            vk.CreateInstance(in info, null, out var instance).Check("vkCreateInstance");
            return instance;
        }
        finally
        {
            SilkMarshal.Free(appName);
            SilkMarshal.Free(ext);
            SilkMarshal.Free(layers);
        }
    }

    static PhysicalDevice[] EnumerateDevices(Vk vk, Instance instance)
    {
        uint count = 0;
        vk.EnumeratePhysicalDevices(instance, ref count, null).Check("vkEnumeratePhysicalDevices");
        var devices = new PhysicalDevice[count];
        fixed (PhysicalDevice* p = devices) vk.EnumeratePhysicalDevices(instance, ref count, p).Check("vkEnumeratePhysicalDevices");
        return devices;
    }

    static DeviceInfo Describe(Vk vk, PhysicalDevice device, int index)
    {
        var subgroup = new PhysicalDeviceSubgroupProperties { SType = StructureType.PhysicalDeviceSubgroupProperties };
        var driver = new PhysicalDeviceDriverProperties { SType = StructureType.PhysicalDeviceDriverProperties, PNext = &subgroup };
        var props2 = new PhysicalDeviceProperties2 { SType = StructureType.PhysicalDeviceProperties2, PNext = &driver };
        vk.GetPhysicalDeviceProperties2(device, &props2);
        var p = props2.Properties;

        var f16 = new PhysicalDeviceShaderFloat16Int8Features { SType = StructureType.PhysicalDeviceShaderFloat16Int8Features };
        var s16 = new PhysicalDevice16BitStorageFeatures { SType = StructureType.PhysicalDevice16BitStorageFeatures, PNext = &f16 };
        var features = new PhysicalDeviceFeatures2 { SType = StructureType.PhysicalDeviceFeatures2, PNext = &s16 };
        vk.GetPhysicalDeviceFeatures2(device, &features);

        vk.GetPhysicalDeviceMemoryProperties(device, out var mem);
        ulong deviceLocal = 0;
        for (int i = 0; i < mem.MemoryHeapCount; i++)
            if ((mem.MemoryHeaps[i].Flags & MemoryHeapFlags.DeviceLocalBit) != 0)
                deviceLocal = Math.Max(deviceLocal, mem.MemoryHeaps[i].Size);
        bool unified = FindUnifiedType(mem) >= 0;

        return new DeviceInfo(
            index, SilkMarshal.PtrToString((nint)p.DeviceName) ?? "?", p.DeviceType,
            SilkMarshal.PtrToString((nint)driver.DriverName) ?? "?", p.ApiVersion,
            p.Limits.MaxStorageBufferRange, p.Limits.MaxTexelBufferElements, p.Limits.MaxComputeSharedMemorySize,
            subgroup.SubgroupSize, p.Limits.MaxComputeWorkGroupInvocations, deviceLocal, unified,
            f16.ShaderFloat16 && s16.StorageBuffer16BitAccess, p.Limits.TimestampPeriod,
            Math.Max(p.Limits.MinStorageBufferOffsetAlignment, p.Limits.MinTexelBufferOffsetAlignment));
    }

    /// <summary>A memory type that is device-local and host-visible on the largest device-local heap
    /// (integrated GPUs, lavapipe): buffers there are used through mapped pointers, no staging.</summary>
    static int FindUnifiedType(in PhysicalDeviceMemoryProperties mem)
    {
        ulong largest = 0;
        for (int i = 0; i < mem.MemoryHeapCount; i++)
            if ((mem.MemoryHeaps[i].Flags & MemoryHeapFlags.DeviceLocalBit) != 0)
                largest = Math.Max(largest, mem.MemoryHeaps[i].Size);
        const MemoryPropertyFlags want = MemoryPropertyFlags.DeviceLocalBit | MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit;
        for (int i = 0; i < mem.MemoryTypeCount; i++)
        {
            var t = mem.MemoryTypes[i];
            if ((t.PropertyFlags & want) == want && mem.MemoryHeaps[(int)t.HeapIndex].Size == largest)
                return i;
        }
        return -1;
    }

    static int Rank(PhysicalDeviceType t) => t switch
    {
        PhysicalDeviceType.DiscreteGpu => 0,
        PhysicalDeviceType.IntegratedGpu => 1,
        PhysicalDeviceType.VirtualGpu => 2,
        PhysicalDeviceType.Cpu => 3,
        _ => 4,
    };

    /// <summary>Picks a device by index or name, or the best one when nothing is asked.</summary>
    public static int Choose(IReadOnlyList<DeviceInfo> infos, string? wanted)
    {
        if (string.IsNullOrWhiteSpace(wanted))
            return infos.OrderBy(i => Rank(i.Type)).ThenByDescending(i => i.DeviceLocalBytes).First().Index;
        if (int.TryParse(wanted, out int n))
        {
            if (n < 0 || n >= infos.Count)
                throw new ArgumentException($"device {n} does not exist; devices: {string.Join("; ", infos)}");
            return n;
        }
        var match = infos.FirstOrDefault(i => i.Name.Contains(wanted, StringComparison.OrdinalIgnoreCase));
        return match?.Index ?? throw new ArgumentException($"no device matches \"{wanted}\"; devices: {string.Join("; ", infos)}");
    }

    uint FindComputeQueue()
    {
        uint count = 0;
        Vk.GetPhysicalDeviceQueueFamilyProperties(PhysicalDevice, ref count, null);
        var families = new QueueFamilyProperties[count];
        fixed (QueueFamilyProperties* p = families) Vk.GetPhysicalDeviceQueueFamilyProperties(PhysicalDevice, ref count, p);
        // Prefer a family with graphics+compute (it can also present for the viewer), then any compute family.
        for (uint i = 0; i < count; i++)
            if ((families[i].QueueFlags & (QueueFlags.ComputeBit | QueueFlags.GraphicsBit)) == (QueueFlags.ComputeBit | QueueFlags.GraphicsBit))
                return i;
        for (uint i = 0; i < count; i++)
            if ((families[i].QueueFlags & QueueFlags.ComputeBit) != 0) return i;
        throw new VulkanException($"device {Info.Name} has no compute queue");
    }

    Device CreateDevice(IReadOnlyList<string> extensions)
    {
        // Ask which optional features exist, then enable exactly those we use.
        var has13 = new PhysicalDeviceVulkan12Features { SType = StructureType.PhysicalDeviceVulkan12Features };
        var has11 = new PhysicalDeviceVulkan11Features { SType = StructureType.PhysicalDeviceVulkan11Features, PNext = &has13 };
        var hasAll = new PhysicalDeviceFeatures2 { SType = StructureType.PhysicalDeviceFeatures2, PNext = &has11 };
        Vk.GetPhysicalDeviceFeatures2(PhysicalDevice, &hasAll);

        var f12 = new PhysicalDeviceVulkan12Features
        {
            SType = StructureType.PhysicalDeviceVulkan12Features,
            ShaderFloat16 = has13.ShaderFloat16,
            ShaderInt8 = has13.ShaderInt8,
            StorageBuffer8BitAccess = has13.StorageBuffer8BitAccess,
            UniformAndStorageBuffer8BitAccess = has13.UniformAndStorageBuffer8BitAccess,
        };
        var f11 = new PhysicalDeviceVulkan11Features
        {
            SType = StructureType.PhysicalDeviceVulkan11Features,
            PNext = &f12,
            StorageBuffer16BitAccess = has11.StorageBuffer16BitAccess,
            UniformAndStorageBuffer16BitAccess = has11.UniformAndStorageBuffer16BitAccess,
        };
        var f = new PhysicalDeviceFeatures2
        {
            SType = StructureType.PhysicalDeviceFeatures2,
            PNext = &f11,
        };
        f.Features.ShaderInt16 = hasAll.Features.ShaderInt16;
        f.Features.ShaderInt64 = hasAll.Features.ShaderInt64;
        f.Features.ShaderStorageImageReadWithoutFormat = hasAll.Features.ShaderStorageImageReadWithoutFormat;
        f.Features.ShaderStorageImageWriteWithoutFormat = hasAll.Features.ShaderStorageImageWriteWithoutFormat;

        float priority = 1f;
        var queueInfo = new DeviceQueueCreateInfo
        {
            SType = StructureType.DeviceQueueCreateInfo,
            QueueFamilyIndex = QueueFamily,
            QueueCount = 1,
            PQueuePriorities = &priority,
        };
        var ext = SilkMarshal.StringArrayToPtr(extensions.ToArray());
        try
        {
            var info = new DeviceCreateInfo
            {
                SType = StructureType.DeviceCreateInfo,
                PNext = &f,
                QueueCreateInfoCount = 1,
                PQueueCreateInfos = &queueInfo,
                EnabledExtensionCount = (uint)extensions.Count,
                PpEnabledExtensionNames = (byte**)ext,
            };
            Vk.CreateDevice(PhysicalDevice, in info, null, out var device).Check("vkCreateDevice");
            return device;
        }
        finally { SilkMarshal.Free(ext); }
    }

    DebugUtilsMessengerEXT CreateMessenger()
    {
        var info = new DebugUtilsMessengerCreateInfoEXT
        {
            SType = StructureType.DebugUtilsMessengerCreateInfoExt,
            MessageSeverity = DebugUtilsMessageSeverityFlagsEXT.WarningBitExt | DebugUtilsMessageSeverityFlagsEXT.ErrorBitExt,
            MessageType = DebugUtilsMessageTypeFlagsEXT.GeneralBitExt | DebugUtilsMessageTypeFlagsEXT.ValidationBitExt | DebugUtilsMessageTypeFlagsEXT.PerformanceBitExt,
            PfnUserCallback = new PfnDebugUtilsMessengerCallbackEXT((delegate* unmanaged[Cdecl]<DebugUtilsMessageSeverityFlagsEXT, DebugUtilsMessageTypeFlagsEXT, DebugUtilsMessengerCallbackDataEXT*, void*, Silk.NET.Core.Bool32>)(delegate* unmanaged[Cdecl]<DebugUtilsMessageSeverityFlagsEXT, DebugUtilsMessageTypeFlagsEXT, DebugUtilsMessengerCallbackDataEXT*, void*, uint>)&OnDebugMessage),
            PUserData = (void*)GCHandle.ToIntPtr(_self),
        };
        var create = (delegate* unmanaged[Cdecl]<Instance, DebugUtilsMessengerCreateInfoEXT*, AllocationCallbacks*, DebugUtilsMessengerEXT*, Result>)
            InstanceFunction("vkCreateDebugUtilsMessengerEXT");
        DebugUtilsMessengerEXT messenger;
        create(Instance, &info, null, &messenger).Check("vkCreateDebugUtilsMessengerEXT");
        return messenger;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    static uint OnDebugMessage(DebugUtilsMessageSeverityFlagsEXT severity, DebugUtilsMessageTypeFlagsEXT type,
        DebugUtilsMessengerCallbackDataEXT* data, void* user)
    {
        if (user == null) return 0;
        var gpu = (Gpu?)GCHandle.FromIntPtr((IntPtr)user).Target;
        if (gpu is null) return 0;
        string text = SilkMarshal.PtrToString((nint)data->PMessage) ?? "";
        // The loader's own notices about other drivers' manifests are not about our usage.
        if ((type & DebugUtilsMessageTypeFlagsEXT.ValidationBitExt) == 0 && text.Contains("loader", StringComparison.OrdinalIgnoreCase))
            return 0;
        lock (gpu._messages) gpu._messages.Add($"{severity}: {text}");
        return 0;
    }

    /// <summary>Blocks until the device has finished all work.</summary>
    public void WaitIdle()
    {
        lock (QueueLock) Vk.DeviceWaitIdle(Device).Check("vkDeviceWaitIdle");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Vk.DeviceWaitIdle(Device);
        foreach (var k in _kernels.Values) k.Destroy();
        _kernels.Clear();
        Vk.DestroyDevice(Device, null);
        if (_messenger.Handle != 0)
        {
            var destroy = (delegate* unmanaged[Cdecl]<Instance, DebugUtilsMessengerEXT, AllocationCallbacks*, void>)
                InstanceFunction("vkDestroyDebugUtilsMessengerEXT");
            destroy(Instance, _messenger, null);
        }
        Vk.DestroyInstance(Instance, null);
        if (_self.IsAllocated) _self.Free();
    }
}
