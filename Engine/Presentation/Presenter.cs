using Silk.NET.Vulkan;
using Semaphore = Silk.NET.Vulkan.Semaphore;

namespace T2X.Vulkan.Presentation;

/// <summary>
/// Shows device images in a window: one compute dispatch scales an image (f32 RGBA texels [H, W, 4], values in
/// [-1, 1], as <see cref="Kernels.PresentPack"/> makes them) into the swapchain image with its aspect ratio kept
/// (letterbox), then presents. Nothing goes through the host. Optionally copies what was presented into a
/// host-visible buffer in the same submission (screenshots).
/// One frame in flight, never waited for on the window's thread: the engine shares the queue, so a present
/// submitted during a long sampler step runs after it, and the window must keep handling events meanwhile.
/// <see cref="Show"/> answers <see cref="ShowResult.Busy"/> until the previous frame is done; whoever reuses the
/// presented image calls <see cref="WaitUntilDone"/> first.
/// </summary>
internal sealed unsafe class Presenter : IDisposable
{
    readonly Gpu _gpu;
    readonly Vk _vk;
    readonly Swapchain _swapchain;
    readonly Kernel _kernel;
    readonly CommandPool _pool;   // own pool: a command pool serves one thread, and the sampler thread records at the same time
    readonly CommandBuffer _cmd;
    readonly Fence _fence;
    readonly Semaphore _acquired;
    readonly DescriptorPool _descriptors;
    readonly DescriptorSet _set;
    GpuBuffer? _readback;
    bool _rebuild = true, _ready, _inFlight;

    // Shaders/include/present.glsl: a Tile × Tile workgroup per block of window pixels.
    const uint Tile = 8;
    readonly record struct Push(int SrcW, int SrcH, int DstW, int DstH, int RectX, int RectY, int RectW, int RectH, int LinearOut);
    readonly record struct Spec(uint WorkgroupWidth, uint WorkgroupHeight);
    static readonly KernelDef<Push, Spec> DirectDef = new("present_swapchain", Access.ReadTexel, Access.WriteImage);
    static readonly KernelDef<Push, Spec> BlitDef = new("present_image", Access.ReadTexel, Access.WriteImage);

    /// <summary>Takes ownership of <paramref name="surface"/> (a window surface on <paramref name="gpu"/>'s instance).
    /// <paramref name="preferBlit"/> forces the fallback path (compute into an intermediate image, then blit).</summary>
    public Presenter(Gpu gpu, SurfaceKHR surface, bool preferBlit = false)
    {
        _gpu = gpu;
        _vk = gpu.Vk;
        _swapchain = new Swapchain(gpu, surface, preferBlit);
        _kernel = (_swapchain.Direct ? DirectDef : BlitDef).Get(gpu, new Spec(Tile, Tile));

        var poolInfo = new CommandPoolCreateInfo
        {
            SType = StructureType.CommandPoolCreateInfo,
            QueueFamilyIndex = gpu.QueueFamily,
            Flags = CommandPoolCreateFlags.ResetCommandBufferBit,
        };
        _vk.CreateCommandPool(gpu.Device, in poolInfo, null, out _pool).Check("vkCreateCommandPool");
        var alloc = new CommandBufferAllocateInfo
        {
            SType = StructureType.CommandBufferAllocateInfo,
            CommandPool = _pool,
            Level = CommandBufferLevel.Primary,
            CommandBufferCount = 1,
        };
        _vk.AllocateCommandBuffers(gpu.Device, in alloc, out _cmd).Check("vkAllocateCommandBuffers");
        var fenceInfo = new FenceCreateInfo { SType = StructureType.FenceCreateInfo };
        _vk.CreateFence(gpu.Device, in fenceInfo, null, out _fence).Check("vkCreateFence");
        var semInfo = new SemaphoreCreateInfo { SType = StructureType.SemaphoreCreateInfo };
        _vk.CreateSemaphore(gpu.Device, in semInfo, null, out _acquired).Check("vkCreateSemaphore");

        var sizes = stackalloc DescriptorPoolSize[]
        {
            new() { Type = DescriptorType.StorageTexelBuffer, DescriptorCount = 1 },
            new() { Type = DescriptorType.StorageImage, DescriptorCount = 1 },
        };
        var dpInfo = new DescriptorPoolCreateInfo { SType = StructureType.DescriptorPoolCreateInfo, MaxSets = 1, PoolSizeCount = 2, PPoolSizes = sizes };
        _vk.CreateDescriptorPool(gpu.Device, in dpInfo, null, out _descriptors).Check("vkCreateDescriptorPool");
        var setLayout = _kernel.SetLayout;
        var setInfo = new DescriptorSetAllocateInfo
        {
            SType = StructureType.DescriptorSetAllocateInfo,
            DescriptorPool = _descriptors,
            DescriptorSetCount = 1,
            PSetLayouts = &setLayout,
        };
        _vk.AllocateDescriptorSets(gpu.Device, in setInfo, out _set).Check("vkAllocateDescriptorSets");
    }

    /// <summary>How frames reach the window (format, present mode, direct or blit).</summary>
    public string Describe() => _swapchain.Describe();

    /// <summary>True when screenshots can be taken (the swapchain images allow transfer reads).</summary>
    public bool CanScreenshot => _swapchain.Readable;

    /// <summary>The window was resized: the swapchain is rebuilt before the next frame.</summary>
    public void Resized() => _rebuild = true;

    /// <summary>Pixels read back from a presented frame: interleaved RGB, [Height, Width, 3].</summary>
    public sealed record Screenshot(byte[] Rgb, int Width, int Height);

    public enum ShowResult
    {
        /// <summary>Submitted and queued for presentation.</summary>
        Shown,
        /// <summary>The previous frame is still being drawn (queued behind other work): try again later.</summary>
        Busy,
        /// <summary>Nothing to draw into (minimised window, framebuffer size 0).</summary>
        Hidden,
    }

    /// <summary>True while the previous frame's drawing has not finished on the device.</summary>
    public bool Busy => _inFlight && _vk.GetFenceStatus(_gpu.Device, _fence) == Result.NotReady;

    /// <summary>Waits until the device has finished reading the last presented image (any thread, with the
    /// caller making sure <see cref="Show"/> does not run at the same time).</summary>
    public void WaitUntilDone()
    {
        if (!_inFlight) return;
        var fence = _fence;
        _vk.WaitForFences(_gpu.Device, 1, &fence, true, ulong.MaxValue).Check("vkWaitForFences");
    }

    /// <summary>
    /// Draws <paramref name="image"/> (f32 RGBA [H, W, 4]) letterboxed into the window and presents it, without
    /// waiting for the device (the image must stay untouched until <see cref="WaitUntilDone"/>). With
    /// <paramref name="screenshot"/> set it waits and <paramref name="shot"/> receives the presented pixels.
    /// </summary>
    public ShowResult Show(Tensor image, int framebufferWidth, int framebufferHeight, bool screenshot, out Screenshot? shot)
    {
        shot = null;
        if (image.Rank != 3 || image.Shape[2] != 4 || image.DType != DType.F32)
            throw new ArgumentException($"presented image must be f32 RGBA [H, W, 4], got {image}");
        if (image.Shape[0] * image.Shape[1] > _gpu.Info.MaxTexelBufferElements)
            throw new ArgumentException($"a {image.Shape[1]}x{image.Shape[0]} image has more pixels than this device's maxTexelBufferElements ({_gpu.Info.MaxTexelBufferElements}): show a smaller preview");
        if (screenshot && !_swapchain.Readable)
            throw new NotSupportedException($"screenshots need swapchain images that can be copied out; {_gpu.Info.Name} does not allow it for {_swapchain.Format.Format}");
        if (Busy) return ShowResult.Busy;
        WaitUntilDone();   // signalled already: makes it visible to the host
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (_rebuild)
            {
                _ready = _swapchain.Rebuild(framebufferWidth, framebufferHeight);
                _rebuild = false;
            }
            if (!_ready) return ShowResult.Hidden;

            var acquired = _swapchain.Acquire(_acquired, out uint index);
            if (acquired == Result.ErrorOutOfDateKhr) { _rebuild = true; continue; }

            Record(image, index, screenshot);
            Submit(index);
            var presented = _swapchain.Present(index);
            if (acquired == Result.SuboptimalKhr || presented != Result.Success) _rebuild = true;
            if (presented == Result.ErrorOutOfDateKhr)
            {
                WaitUntilDone();   // the swapchain is rebuilt next: nothing may use it
                continue;          // the frame may not have reached the window: draw again
            }
            if (screenshot)
            {
                WaitUntilDone();
                shot = ReadScreenshot();
            }
            return ShowResult.Shown;
        }
        return ShowResult.Busy;
    }

    void Record(Tensor image, uint index, bool screenshot)
    {
        var sc = _swapchain;
        var extent = sc.Extent;
        var target = sc.Direct ? sc.Images[index] : sc.Intermediate;
        var targetView = sc.Direct ? sc.Views[index] : sc.IntermediateView;
        int srcW = (int)image.Shape[1], srcH = (int)image.Shape[0];
        var rect = Letterbox.Fit(srcW, srcH, (int)extent.Width, (int)extent.Height);

        var texels = image.Buffer.View(Format.R32G32B32A32Sfloat, image.Offset, image.Bytes);
        var imageInfo = new DescriptorImageInfo { ImageView = targetView, ImageLayout = ImageLayout.General };
        var writes = stackalloc WriteDescriptorSet[]
        {
            new() { SType = StructureType.WriteDescriptorSet, DstSet = _set, DstBinding = 0, DescriptorCount = 1, DescriptorType = DescriptorType.StorageTexelBuffer, PTexelBufferView = &texels },
            new() { SType = StructureType.WriteDescriptorSet, DstSet = _set, DstBinding = 1, DescriptorCount = 1, DescriptorType = DescriptorType.StorageImage, PImageInfo = &imageInfo },
        };
        _vk.UpdateDescriptorSets(_gpu.Device, 2, writes, 0, null);

        _vk.ResetCommandBuffer(_cmd, 0).Check("vkResetCommandBuffer");
        var begin = new CommandBufferBeginInfo { SType = StructureType.CommandBufferBeginInfo, Flags = CommandBufferUsageFlags.OneTimeSubmitBit };
        _vk.BeginCommandBuffer(_cmd, in begin).Check("vkBeginCommandBuffer");

        // The image was written by earlier submissions (the sampler's copy): make those writes visible here.
        var source = new BufferMemoryBarrier
        {
            SType = StructureType.BufferMemoryBarrier,
            SrcAccessMask = AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit,
            DstAccessMask = AccessFlags.ShaderReadBit,
            SrcQueueFamilyIndex = Vk.QueueFamilyIgnored,
            DstQueueFamilyIndex = Vk.QueueFamilyIgnored,
            Buffer = image.Buffer.Handle,
            Offset = image.Offset,
            Size = image.Bytes,
        };
        // Whatever the image held is overwritten: start from UNDEFINED.
        var toGeneral = ImageBarrier(target, ImageLayout.Undefined, ImageLayout.General, 0, AccessFlags.ShaderWriteBit);
        _vk.CmdPipelineBarrier(_cmd, PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit, PipelineStageFlags.ComputeShaderBit,
            0, 0, null, 1, &source, 1, &toGeneral);

        var set = _set;
        _vk.CmdBindPipeline(_cmd, PipelineBindPoint.Compute, _kernel.Pipeline);
        _vk.CmdBindDescriptorSets(_cmd, PipelineBindPoint.Compute, _kernel.PipelineLayout, 0, 1, &set, 0, null);
        var push = checked(new Push(srcW, srcH, (int)extent.Width, (int)extent.Height,
            rect.X, rect.Y, rect.Width, rect.Height, Swapchain.IsSrgb(sc.Format.Format) ? 1 : 0));
        _vk.CmdPushConstants(_cmd, _kernel.PipelineLayout, ShaderStageFlags.ComputeBit, 0, (uint)sizeof(Push), &push);
        _vk.CmdDispatch(_cmd, (extent.Width + Tile - 1) / Tile, (extent.Height + Tile - 1) / Tile, 1);

        var swapImage = sc.Images[index];
        ImageLayout layout;
        PipelineStageFlags stage;
        AccessFlags access;
        if (sc.Direct)
        {
            (layout, stage, access) = (ImageLayout.General, PipelineStageFlags.ComputeShaderBit, AccessFlags.ShaderWriteBit);
        }
        else
        {
            var barriers = stackalloc ImageMemoryBarrier[]
            {
                ImageBarrier(target, ImageLayout.General, ImageLayout.TransferSrcOptimal, AccessFlags.ShaderWriteBit, AccessFlags.TransferReadBit),
                ImageBarrier(swapImage, ImageLayout.Undefined, ImageLayout.TransferDstOptimal, 0, AccessFlags.TransferWriteBit),
            };
            _vk.CmdPipelineBarrier(_cmd, PipelineStageFlags.ComputeShaderBit, PipelineStageFlags.TransferBit, 0, 0, null, 0, null, 2, barriers);
            var whole = new ImageSubresourceLayers(ImageAspectFlags.ColorBit, 0, 0, 1);
            var corner = new Offset3D((int)extent.Width, (int)extent.Height, 1);
            var blit = new ImageBlit { SrcSubresource = whole, DstSubresource = whole };
            blit.SrcOffsets[1] = corner;
            blit.DstOffsets[1] = corner;
            _vk.CmdBlitImage(_cmd, target, ImageLayout.TransferSrcOptimal, swapImage, ImageLayout.TransferDstOptimal, 1, &blit, Filter.Nearest);
            (layout, stage, access) = (ImageLayout.TransferDstOptimal, PipelineStageFlags.TransferBit, AccessFlags.TransferWriteBit);
        }

        if (screenshot)
        {
            ulong bytes = 4ul * extent.Width * extent.Height;
            if (_readback is null || _readback.Size < bytes)
            {
                _readback?.Dispose();
                _readback = new GpuBuffer(_gpu, bytes, hostVisible: true);
            }
            var toSource = ImageBarrier(swapImage, layout, ImageLayout.TransferSrcOptimal, access, AccessFlags.TransferReadBit);
            _vk.CmdPipelineBarrier(_cmd, stage, PipelineStageFlags.TransferBit, 0, 0, null, 0, null, 1, &toSource);
            var region = new BufferImageCopy
            {
                BufferOffset = 0,
                ImageSubresource = new ImageSubresourceLayers(ImageAspectFlags.ColorBit, 0, 0, 1),
                ImageExtent = new Extent3D(extent.Width, extent.Height, 1),
            };
            _vk.CmdCopyImageToBuffer(_cmd, swapImage, ImageLayout.TransferSrcOptimal, _readback.Handle, 1, &region);
            var toHost = new BufferMemoryBarrier
            {
                SType = StructureType.BufferMemoryBarrier,
                SrcAccessMask = AccessFlags.TransferWriteBit,
                DstAccessMask = AccessFlags.HostReadBit,
                SrcQueueFamilyIndex = Vk.QueueFamilyIgnored,
                DstQueueFamilyIndex = Vk.QueueFamilyIgnored,
                Buffer = _readback.Handle,
                Offset = 0,
                Size = bytes,
            };
            _vk.CmdPipelineBarrier(_cmd, PipelineStageFlags.TransferBit, PipelineStageFlags.HostBit, 0, 0, null, 1, &toHost, 0, null);
            (layout, stage, access) = (ImageLayout.TransferSrcOptimal, PipelineStageFlags.TransferBit, AccessFlags.TransferReadBit);
        }

        var toPresent = ImageBarrier(swapImage, layout, ImageLayout.PresentSrcKhr, access, 0);
        _vk.CmdPipelineBarrier(_cmd, stage, PipelineStageFlags.BottomOfPipeBit, 0, 0, null, 0, null, 1, &toPresent);
        _vk.EndCommandBuffer(_cmd).Check("vkEndCommandBuffer");
    }

    static ImageMemoryBarrier ImageBarrier(Image image, ImageLayout from, ImageLayout to, AccessFlags src, AccessFlags dst) => new()
    {
        SType = StructureType.ImageMemoryBarrier,
        SrcAccessMask = src,
        DstAccessMask = dst,
        OldLayout = from,
        NewLayout = to,
        SrcQueueFamilyIndex = Vk.QueueFamilyIgnored,
        DstQueueFamilyIndex = Vk.QueueFamilyIgnored,
        Image = image,
        SubresourceRange = Swapchain.ColorRange,
    };

    void Submit(uint index)
    {
        var cmd = _cmd;
        var wait = _acquired;
        var signal = _swapchain.RenderFinished[index];
        // The first use of the acquired image is the layout barrier at the compute stage (transfer for the blit).
        var waitStage = PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit;
        var submit = new SubmitInfo
        {
            SType = StructureType.SubmitInfo,
            WaitSemaphoreCount = 1,
            PWaitSemaphores = &wait,
            PWaitDstStageMask = &waitStage,
            CommandBufferCount = 1,
            PCommandBuffers = &cmd,
            SignalSemaphoreCount = 1,
            PSignalSemaphores = &signal,
        };
        var fence = _fence;
        _vk.ResetFences(_gpu.Device, 1, &fence).Check("vkResetFences");
        lock (_gpu.QueueLock) _vk.QueueSubmit(_gpu.Queue, 1, in submit, _fence).Check("vkQueueSubmit");
        _inFlight = true;
    }

    Screenshot ReadScreenshot()
    {
        int w = (int)_swapchain.Extent.Width, h = (int)_swapchain.Extent.Height;
        var pixels = _readback!.Mapped;
        var rgb = new byte[3 * w * h];
        int r = _swapchain.BgrOrder ? 2 : 0, b = 2 - r;
        for (int i = 0; i < w * h; i++)
        {
            rgb[3 * i] = pixels[4 * i + r];
            rgb[3 * i + 1] = pixels[4 * i + 1];
            rgb[3 * i + 2] = pixels[4 * i + b];
        }
        return new Screenshot(rgb, w, h);
    }

    public void Dispose()
    {
        _gpu.WaitIdle();
        _inFlight = false;
        _swapchain.Dispose();
        _readback?.Dispose();
        _vk.DestroyDescriptorPool(_gpu.Device, _descriptors, null);
        _vk.DestroySemaphore(_gpu.Device, _acquired, null);
        _vk.DestroyFence(_gpu.Device, _fence, null);
        _vk.DestroyCommandPool(_gpu.Device, _pool, null);
    }
}

/// <summary>Where an image goes in a window when scaled with its aspect ratio kept, centred (bars on two sides).</summary>
internal readonly record struct Letterbox(int X, int Y, int Width, int Height)
{
    public static Letterbox Fit(int imageWidth, int imageHeight, int windowWidth, int windowHeight)
    {
        double scale = Math.Min(windowWidth / (double)imageWidth, windowHeight / (double)imageHeight);
        int w = Math.Clamp((int)Math.Round(imageWidth * scale), 1, windowWidth);
        int h = Math.Clamp((int)Math.Round(imageHeight * scale), 1, windowHeight);
        return new Letterbox((windowWidth - w) / 2, (windowHeight - h) / 2, w, h);
    }
}
