using T2X.Vulkan;

namespace T2X.Host.Commands;

public static class DevicesCommand
{
    public static int Run(Args a)
    {
        a.Done();
        var devices = Gpu.ListDevices();
        string? wanted = Environment.GetEnvironmentVariable("T2X_DEVICE");
        int chosen = Gpu.Choose(devices, wanted);
        foreach (var d in devices)
        {
            Console.WriteLine($"{(d.Index == chosen ? "*" : " ")} {d}");
            Console.WriteLine($"    maxStorageBufferRange {d.MaxStorageBufferRange} B, maxTexelBufferElements {d.MaxTexelBufferElements}, " +
                              $"shared memory {d.MaxSharedMemory} B, subgroup {d.SubgroupSize}, max invocations {d.MaxWorkgroupInvocations}");
            Console.WriteLine($"    device-local {d.DeviceLocalBytes >> 20} MiB, unified memory {(d.UnifiedMemory ? "yes" : "no")}, fp16 {(d.Float16 ? "yes" : "no")}");
        }
        Console.WriteLine("* = used by default (choose with --device N|name or T2X_DEVICE)");
        return 0;
    }
}
