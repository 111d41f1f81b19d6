using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace T2X.Vulkan.Files;

/// <summary>
/// Tells the operating system that a range of a file will be read soon, so that it starts reading it from disk in the
/// background (posix_fadvise with WILLNEED, through the .NET runtime's own native shim). Only a hint: it costs no
/// process memory (the bytes land in the page cache), does nothing on Windows or where the C library has no
/// posix_fadvise (macOS), and never throws.
/// </summary>
public static class ReadAhead
{
    const int WillNeed = 3;   // the shim's PAL_POSIX_FADV_WILLNEED

    /// <summary>Linux reads at most one readahead window per hint (read_ahead_kb of the disk, 128 KiB by default), so a
    /// long range is hinted in pieces of that size.</summary>
    const long Piece = 128 << 10;

    /// <summary>Hints that bytes [offset, offset + length) of the file will be read; true when the OS took the hint.
    /// Waits while the disk's queue is full, so call it from a background thread for long ranges.</summary>
    public static bool Hint(SafeFileHandle file, long offset, long length)
    {
        if (OperatingSystem.IsWindows() || length <= 0 || file.IsClosed) return false;
        try
        {
            for (long done = 0; done < length; done += Piece)
                if (FAdvise(file, offset + done, Math.Min(Piece, length - done), WillNeed) != 0) return false;
            return true;
        }
        catch (Exception e) when (e is ObjectDisposedException or DllNotFoundException or EntryPointNotFoundException) { return false; }   // closed meanwhile, or no shim
    }

    [DllImport("libSystem.Native", EntryPoint = "SystemNative_PosixFAdvise")]
    static extern int FAdvise(SafeFileHandle fd, long offset, long length, int advice);
}
