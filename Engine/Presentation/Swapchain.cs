using Silk.NET.Vulkan;
using Semaphore = Silk.NET.Vulkan.Semaphore;

namespace T2X.Vulkan.Presentation;

/// <summary>
/// A window surface's swapchain on the engine's device. Silk.NET's KHR extension package is not available,
/// so the surface and swapchain functions are loaded through vkGetInstanceProcAddr / vkGetDeviceProcAddr.
/// The device must have been opened with the window system's instance extensions and VK_KHR_swapchain
/// (<see cref="GpuOptions"/>). Owns the surface from construction on.
/// </summary>
internal sealed unsafe class Swapchain : IDisposable
{
    readonly Gpu _gpu;
    readonly Vk _vk;
    public readonly SurfaceKHR Surface;

    /// <summary>True: the compute shader writes the swapchain images (storage usage). False: it writes
    /// <see cref="Intermediate"/>, which is blitted into them.</summary>
    public readonly bool Direct;
    public readonly SurfaceFormatKHR Format;
    /// <summary>The swapchain images can be copied out (screenshots).</summary>
    public readonly bool Readable;

    public SwapchainKHR Handle { get; private set; }
    public Extent2D Extent { get; private set; }
    public Image[] Images { get; private set; } = [];
    /// <summary>Storage views of the swapchain images (direct mode only).</summary>
    public ImageView[] Views { get; private set; } = [];
    /// <summary>Signalled when rendering into image i is done; presenting image i waits for it.</summary>
    public Semaphore[] RenderFinished { get; private set; } = [];
    /// <summary>RGBA16F image of the swapchain's size that the shader writes in blit mode.</summary>
    public Image Intermediate { get; private set; }
    public ImageView IntermediateView { get; private set; }
    DeviceMemory _intermediateMemory;
    ulong _intermediateBytes;

    // Semaphores of replaced swapchains: a present may still wait on them, so they live until Dispose (after WaitIdle).
    readonly List<Semaphore> _retired = [];
    readonly PresentModeKHR _presentMode;

    readonly delegate* unmanaged<PhysicalDevice, uint, SurfaceKHR, uint*, Result> _getSupport;
    readonly delegate* unmanaged<PhysicalDevice, SurfaceKHR, SurfaceCapabilitiesKHR*, Result> _getCapabilities;
    readonly delegate* unmanaged<Instance, SurfaceKHR, AllocationCallbacks*, void> _destroySurface;
    readonly delegate* unmanaged<Device, SwapchainCreateInfoKHR*, AllocationCallbacks*, SwapchainKHR*, Result> _createSwapchain;
    readonly delegate* unmanaged<Device, SwapchainKHR, AllocationCallbacks*, void> _destroySwapchain;
    readonly delegate* unmanaged<Device, SwapchainKHR, uint*, Image*, Result> _getImages;
    readonly delegate* unmanaged<Device, SwapchainKHR, ulong, Semaphore, Fence, uint*, Result> _acquire;
    readonly delegate* unmanaged<Queue, PresentInfoKHR*, Result> _present;

    public const ImageUsageFlags DirectUsage = ImageUsageFlags.StorageBit;
    public const ImageUsageFlags BlitUsage = ImageUsageFlags.TransferDstBit;

    public Swapchain(Gpu gpu, SurfaceKHR surface, bool preferBlit)
    {
        _gpu = gpu;
        _vk = gpu.Vk;
        Surface = surface;
        _destroySurface = (delegate* unmanaged<Instance, SurfaceKHR, AllocationCallbacks*, void>)gpu.InstanceFunction("vkDestroySurfaceKHR");
        try
        {
            _getSupport = (delegate* unmanaged<PhysicalDevice, uint, SurfaceKHR, uint*, Result>)gpu.InstanceFunction("vkGetPhysicalDeviceSurfaceSupportKHR");
            _getCapabilities = (delegate* unmanaged<PhysicalDevice, SurfaceKHR, SurfaceCapabilitiesKHR*, Result>)gpu.InstanceFunction("vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
            var getFormats = (delegate* unmanaged<PhysicalDevice, SurfaceKHR, uint*, SurfaceFormatKHR*, Result>)gpu.InstanceFunction("vkGetPhysicalDeviceSurfaceFormatsKHR");
            var getModes = (delegate* unmanaged<PhysicalDevice, SurfaceKHR, uint*, PresentModeKHR*, Result>)gpu.InstanceFunction("vkGetPhysicalDeviceSurfacePresentModesKHR");
            _createSwapchain = (delegate* unmanaged<Device, SwapchainCreateInfoKHR*, AllocationCallbacks*, SwapchainKHR*, Result>)gpu.DeviceFunction("vkCreateSwapchainKHR");
            _destroySwapchain = (delegate* unmanaged<Device, SwapchainKHR, AllocationCallbacks*, void>)gpu.DeviceFunction("vkDestroySwapchainKHR");
            _getImages = (delegate* unmanaged<Device, SwapchainKHR, uint*, Image*, Result>)gpu.DeviceFunction("vkGetSwapchainImagesKHR");
            _acquire = (delegate* unmanaged<Device, SwapchainKHR, ulong, Semaphore, Fence, uint*, Result>)gpu.DeviceFunction("vkAcquireNextImageKHR");
            _present = (delegate* unmanaged<Queue, PresentInfoKHR*, Result>)gpu.DeviceFunction("vkQueuePresentKHR");

            uint supported;
            _getSupport(gpu.PhysicalDevice, gpu.QueueFamily, surface, &supported).Check("vkGetPhysicalDeviceSurfaceSupportKHR");
            if (supported == 0)
                throw new VulkanException(
                    $"{gpu.Info.Name} cannot present to this window: its queue family {gpu.QueueFamily} (the one the engine computes on) " +
                    "has no presentation support for the window's surface. Choose another device with --device, or write PNG files with `t2x generate`.");

            uint count = 0;
            getFormats(gpu.PhysicalDevice, surface, &count, null).Check("vkGetPhysicalDeviceSurfaceFormatsKHR");
            var formats = new SurfaceFormatKHR[count];
            fixed (SurfaceFormatKHR* p = formats) getFormats(gpu.PhysicalDevice, surface, &count, p).Check("vkGetPhysicalDeviceSurfaceFormatsKHR");
            if (count == 0) throw new VulkanException($"{gpu.Info.Name} offers no image format for this window's surface");
            Format = ChooseFormat(formats);

            count = 0;
            getModes(gpu.PhysicalDevice, surface, &count, null).Check("vkGetPhysicalDeviceSurfacePresentModesKHR");
            var modes = new PresentModeKHR[count];
            fixed (PresentModeKHR* p = modes) getModes(gpu.PhysicalDevice, surface, &count, p).Check("vkGetPhysicalDeviceSurfacePresentModesKHR");
            // Frames come only when the sampler made one: mailbox never blocks and never tears; FIFO is always there.
            _presentMode = modes.Contains(PresentModeKHR.MailboxKhr) ? PresentModeKHR.MailboxKhr : PresentModeKHR.FifoKhr;

            var caps = Capabilities();
            _vk.GetPhysicalDeviceFormatProperties(gpu.PhysicalDevice, Format.Format, out var props);
            _vk.GetPhysicalDeviceFeatures(gpu.PhysicalDevice, out var features);
            bool storage = (caps.SupportedUsageFlags & DirectUsage) != 0
                        && (props.OptimalTilingFeatures & FormatFeatureFlags.StorageImageBit) != 0
                        && features.ShaderStorageImageWriteWithoutFormat
                        && !IsSrgb(Format.Format);
            Direct = storage && !preferBlit;
            if (!Direct)
            {
                if ((caps.SupportedUsageFlags & BlitUsage) == 0 || (props.OptimalTilingFeatures & FormatFeatureFlags.BlitDstBit) == 0)
                    throw new VulkanException($"{gpu.Info.Name} cannot present to this window: its swapchain images ({Format.Format}) allow neither storage writes nor blits");
            }
            Readable = (caps.SupportedUsageFlags & ImageUsageFlags.TransferSrcBit) != 0 && BytesPerPixel(Format.Format) == 4;
        }
        catch
        {
            _destroySurface(gpu.Instance, surface, null);
            throw;
        }
    }

    /// <summary>How frames reach the window, for the viewer's startup line.</summary>
    public string Describe() =>
        $"{Format.Format}, {_presentMode}, {(Direct ? "compute writes the swapchain image" : "compute writes an RGBA16F image that is blitted")}";

    static SurfaceFormatKHR ChooseFormat(SurfaceFormatKHR[] formats)
    {
        // UNORM: the bytes on screen are the bytes of the saved PNG, and storage writes work on it.
        foreach (var want in new[] { Silk.NET.Vulkan.Format.B8G8R8A8Unorm, Silk.NET.Vulkan.Format.R8G8B8A8Unorm })
            foreach (var f in formats)
                if (f.Format == want && f.ColorSpace == ColorSpaceKHR.SpaceSrgbNonlinearKhr) return f;
        return formats[0];
    }

    public static bool IsSrgb(Format f) => f is Silk.NET.Vulkan.Format.B8G8R8A8Srgb or Silk.NET.Vulkan.Format.R8G8B8A8Srgb or Silk.NET.Vulkan.Format.A8B8G8R8SrgbPack32;

    static int BytesPerPixel(Format f) => f is Silk.NET.Vulkan.Format.B8G8R8A8Unorm or Silk.NET.Vulkan.Format.B8G8R8A8Srgb
        or Silk.NET.Vulkan.Format.R8G8B8A8Unorm or Silk.NET.Vulkan.Format.R8G8B8A8Srgb ? 4 : 0;

    /// <summary>Red is byte 2 of a pixel in B8G8R8A8 formats, byte 0 in R8G8B8A8.</summary>
    public bool BgrOrder => Format.Format is Silk.NET.Vulkan.Format.B8G8R8A8Unorm or Silk.NET.Vulkan.Format.B8G8R8A8Srgb;

    SurfaceCapabilitiesKHR Capabilities()
    {
        SurfaceCapabilitiesKHR caps;
        _getCapabilities(_gpu.PhysicalDevice, Surface, &caps).Check("vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
        return caps;
    }

    /// <summary>
    /// (Re)creates the swapchain for the window's current framebuffer size. Returns false when there is nothing
    /// to present to (a minimised window has extent 0): presentation pauses until the next rebuild succeeds.
    /// The caller has waited for its own work on the old images.
    /// </summary>
    public bool Rebuild(int framebufferWidth, int framebufferHeight)
    {
        var caps = Capabilities();
        var extent = caps.CurrentExtent.Width != uint.MaxValue
            ? caps.CurrentExtent
            : new Extent2D(
                Math.Clamp((uint)Math.Max(0, framebufferWidth), caps.MinImageExtent.Width, caps.MaxImageExtent.Width),
                Math.Clamp((uint)Math.Max(0, framebufferHeight), caps.MinImageExtent.Height, caps.MaxImageExtent.Height));
        if (extent.Width == 0 || extent.Height == 0 || framebufferWidth <= 0 || framebufferHeight <= 0) return false;

        uint images = caps.MinImageCount + 1;
        if (caps.MaxImageCount != 0) images = Math.Min(images, caps.MaxImageCount);
        var usage = (Direct ? DirectUsage : BlitUsage) | (Readable ? ImageUsageFlags.TransferSrcBit : 0);
        var old = Handle;
        var info = new SwapchainCreateInfoKHR
        {
            SType = StructureType.SwapchainCreateInfoKhr,
            Surface = Surface,
            MinImageCount = images,
            ImageFormat = Format.Format,
            ImageColorSpace = Format.ColorSpace,
            ImageExtent = extent,
            ImageArrayLayers = 1,
            ImageUsage = usage,
            ImageSharingMode = SharingMode.Exclusive,
            PreTransform = caps.CurrentTransform,
            CompositeAlpha = ChooseAlpha(caps.SupportedCompositeAlpha),
            PresentMode = _presentMode,
            Clipped = true,
            OldSwapchain = old,
        };
        SwapchainKHR created;
        _createSwapchain(_gpu.Device, &info, null, &created).Check("vkCreateSwapchainKHR");
        DestroyImages();
        if (old.Handle != 0) _destroySwapchain(_gpu.Device, old, null);
        Handle = created;
        Extent = extent;

        uint count = 0;
        _getImages(_gpu.Device, Handle, &count, null).Check("vkGetSwapchainImagesKHR");
        var list = new Image[count];
        fixed (Image* p = list) _getImages(_gpu.Device, Handle, &count, p).Check("vkGetSwapchainImagesKHR");
        Images = list;
        Views = Direct ? list.Select(i => CreateView(i, Format.Format)).ToArray() : [];
        RenderFinished = list.Select(_ => CreateSemaphore()).ToArray();
        if (!Direct) CreateIntermediate();
        return true;
    }

    static CompositeAlphaFlagsKHR ChooseAlpha(CompositeAlphaFlagsKHR supported)
    {
        foreach (var a in new[] { CompositeAlphaFlagsKHR.OpaqueBitKhr, CompositeAlphaFlagsKHR.InheritBitKhr, CompositeAlphaFlagsKHR.PreMultipliedBitKhr, CompositeAlphaFlagsKHR.PostMultipliedBitKhr })
            if ((supported & a) != 0) return a;
        return CompositeAlphaFlagsKHR.OpaqueBitKhr;
    }

    ImageView CreateView(Image image, Format format)
    {
        var info = new ImageViewCreateInfo
        {
            SType = StructureType.ImageViewCreateInfo,
            Image = image,
            ViewType = ImageViewType.Type2D,
            Format = format,
            SubresourceRange = ColorRange,
        };
        _vk.CreateImageView(_gpu.Device, in info, null, out var view).Check("vkCreateImageView");
        return view;
    }

    public static readonly ImageSubresourceRange ColorRange = new(ImageAspectFlags.ColorBit, 0, 1, 0, 1);

    Semaphore CreateSemaphore()
    {
        var info = new SemaphoreCreateInfo { SType = StructureType.SemaphoreCreateInfo };
        _vk.CreateSemaphore(_gpu.Device, in info, null, out var s).Check("vkCreateSemaphore");
        return s;
    }

    void CreateIntermediate()
    {
        var info = new ImageCreateInfo
        {
            SType = StructureType.ImageCreateInfo,
            ImageType = ImageType.Type2D,
            Format = Silk.NET.Vulkan.Format.R16G16B16A16Sfloat,
            Extent = new Extent3D(Extent.Width, Extent.Height, 1),
            MipLevels = 1,
            ArrayLayers = 1,
            Samples = SampleCountFlags.Count1Bit,
            Tiling = ImageTiling.Optimal,
            Usage = ImageUsageFlags.StorageBit | ImageUsageFlags.TransferSrcBit,
            SharingMode = SharingMode.Exclusive,
            InitialLayout = ImageLayout.Undefined,
        };
        _vk.CreateImage(_gpu.Device, in info, null, out var image).Check("vkCreateImage");
        _vk.GetImageMemoryRequirements(_gpu.Device, image, out var req);
        var alloc = new MemoryAllocateInfo
        {
            SType = StructureType.MemoryAllocateInfo,
            AllocationSize = req.Size,
            MemoryTypeIndex = (uint)_gpu.ChooseMemoryType(req.MemoryTypeBits, hostVisible: false),
        };
        _vk.AllocateMemory(_gpu.Device, in alloc, null, out var memory).Check($"vkAllocateMemory ({req.Size} bytes for the window image)");
        _vk.BindImageMemory(_gpu.Device, image, memory, 0).Check("vkBindImageMemory");
        _gpu.Track(req.Size);
        Intermediate = image;
        _intermediateMemory = memory;
        _intermediateBytes = req.Size;
        IntermediateView = CreateView(image, Silk.NET.Vulkan.Format.R16G16B16A16Sfloat);
    }

    /// <summary>vkAcquireNextImageKHR: Success, SuboptimalKhr (usable) or ErrorOutOfDateKhr (rebuild first).</summary>
    public Result Acquire(Semaphore signal, out uint index)
    {
        uint i;
        var r = _acquire(_gpu.Device, Handle, ulong.MaxValue, signal, default, &i);
        index = i;
        if (r is not (Result.Success or Result.SuboptimalKhr or Result.ErrorOutOfDateKhr)) r.Check("vkAcquireNextImageKHR");
        return r;
    }

    /// <summary>vkQueuePresentKHR of image <paramref name="index"/> after <see cref="RenderFinished"/>[index].</summary>
    public Result Present(uint index)
    {
        var swapchain = Handle;
        var wait = RenderFinished[index];
        var info = new PresentInfoKHR
        {
            SType = StructureType.PresentInfoKhr,
            WaitSemaphoreCount = 1,
            PWaitSemaphores = &wait,
            SwapchainCount = 1,
            PSwapchains = &swapchain,
            PImageIndices = &index,
        };
        Result r;
        lock (_gpu.QueueLock) r = _present(_gpu.Queue, &info);
        if (r is not (Result.Success or Result.SuboptimalKhr or Result.ErrorOutOfDateKhr)) r.Check("vkQueuePresentKHR");
        return r;
    }

    void DestroyImages()
    {
        foreach (var v in Views) _vk.DestroyImageView(_gpu.Device, v, null);
        Views = [];
        _retired.AddRange(RenderFinished);
        RenderFinished = [];
        if (Intermediate.Handle != 0)
        {
            _vk.DestroyImageView(_gpu.Device, IntermediateView, null);
            _vk.DestroyImage(_gpu.Device, Intermediate, null);
            _vk.FreeMemory(_gpu.Device, _intermediateMemory, null);
            _gpu.Track(-(long)_intermediateBytes);
            Intermediate = default;
            IntermediateView = default;
        }
        Images = [];
    }

    public void Dispose()
    {
        _gpu.WaitIdle();
        DestroyImages();
        foreach (var s in _retired) _vk.DestroySemaphore(_gpu.Device, s, null);
        _retired.Clear();
        if (Handle.Handle != 0) _destroySwapchain(_gpu.Device, Handle, null);
        Handle = default;
        _destroySurface(_gpu.Instance, Surface, null);
    }
}
