using System.Runtime.InteropServices;

namespace T2X.Vulkan.Files;

/// <summary>
/// The checks on every file t2x reads (model files, checkpoints, PNGs, prompt lists), made before reading: it must be a
/// regular file, after following symbolic links (a FIFO would block forever, a device such as /dev/zero never ends),
/// and small files are read only up to a size limit, so a hostile or mistaken input cannot exhaust memory.
/// </summary>
public static class InputFile
{
    /// <summary>The largest JSON file read (configs, model_index.json, indexes, prompt lists).</summary>
    public const long MaxJsonBytes = 64L << 20;

    /// <summary>Throws unless <paramref name="path"/> is a regular file (or a link to one).</summary>
    public static void RequireRegular(string path)
    {
        if (Directory.Exists(path)) throw new IOException($"{path} is a folder, expected a file");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} does not exist", path);
        if (new FileInfo(path).LinkTarget is not null && File.ResolveLinkTarget(path, returnFinalTarget: true) is { Exists: false })
            throw new FileNotFoundException($"{path}: the file it links to does not exist", path);
        if (Kind(path) is { } kind) throw new IOException($"{path} is {kind}, not a regular file");
    }

    /// <summary>A handle for random-access reads of a regular file (checkpoints).</summary>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle OpenHandle(string path)
    {
        RequireRegular(path);
        return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
    }

    /// <summary>The whole file, when it is a regular file of at most <paramref name="maxBytes"/> bytes.</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes)
    {
        RequireRegular(path);
        long length = new FileInfo(path).Length;
        if (length > maxBytes) throw new InvalidDataException($"{path} is {length} bytes, more than the {maxBytes} this kind of file may have");
        return File.ReadAllBytes(path);
    }

    /// <summary>The whole file as UTF-8 text, when it is a regular file of at most <paramref name="maxBytes"/> bytes.</summary>
    public static string ReadAllText(string path, long maxBytes = MaxJsonBytes) => System.Text.Encoding.UTF8.GetString(ReadAllBytes(path, maxBytes));

    /// <summary>What a file that is not regular is ("a FIFO"), or null for a regular file (or where this cannot be told).</summary>
    static string? Kind(string path)
    {
        if (OperatingSystem.IsWindows()) return null;
        // stat(2) through the .NET runtime's own native shim (its FileStatus starts with int Flags, int Mode), so the
        // layout does not depend on the C library or the architecture.
        Span<byte> status = stackalloc byte[256];
        if (Stat(path, ref MemoryMarshal.GetReference(status)) != 0) return null;
        int type = BitConverter.ToInt32(status[4..8]) & 0xF000;
        return type switch
        {
            0x8000 => null,
            0x1000 => "a FIFO",
            0x2000 => "a character device",
            0x6000 => "a block device",
            0xC000 => "a socket",
            _ => "not a file",
        };
    }

    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat")]
    static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, ref byte status);
}
