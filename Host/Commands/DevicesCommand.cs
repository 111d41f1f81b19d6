using T2X.Vulkan;

namespace T2X.Host.Commands;

public static class DevicesCommand
{
    public static int Run(Args a)
    {
        string? wanted = a.Option("device") ?? Environment.GetEnvironmentVariable("T2X_DEVICE");
        string? workers = a.Option("devices");
        a.Done();
        var devices = Gpu.ListDevices();
        int chosen = Gpu.Choose(devices, wanted);
        foreach (var d in devices)
        {
            Console.WriteLine($"{(d.Index == chosen ? "*" : " ")} {d}");
            Console.WriteLine($"    maxStorageBufferRange {d.MaxStorageBufferRange} B, maxTexelBufferElements {d.MaxTexelBufferElements}, " +
                              $"shared memory {d.MaxSharedMemory} B, subgroup {d.SubgroupSize}, max invocations {d.MaxWorkgroupInvocations}");
            Console.WriteLine($"    device-local {d.DeviceLocalBytes >> 20} MiB, unified memory {(d.UnifiedMemory ? "yes" : "no")}, fp16 {(d.Float16 ? "yes" : "no")}");
        }
        Console.WriteLine(wanted is null ? "* = used by default (choose with --device N|name or T2X_DEVICE)" : $"* = chosen by '{Terminal.Safe(wanted)}'");
        if (workers is not null)
        {
            // What t2x batch --devices LIST opens: one worker per entry, each with its own copy of the model.
            var list = BatchCommand.DeviceList(workers);
            Console.WriteLine($"t2x batch --devices {Terminal.Safe(workers)}: {list.Count} worker{(list.Count > 1 ? "s" : "")}");
            for (int k = 0; k < list.Count; k++)
                Console.WriteLine($"  worker {k}: {devices[int.Parse(list[k]!, System.Globalization.CultureInfo.InvariantCulture)]}");
        }
        return 0;
    }
}
