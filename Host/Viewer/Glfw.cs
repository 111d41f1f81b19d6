using System.Runtime.InteropServices;

namespace T2X.Host.Viewer;

/// <summary>
/// The few GLFW 3.3 functions the viewer uses, bound directly to Debian's libglfw3 (libglfw.so.3: the package
/// has no unversioned symlink, so the full name is loaded). The window has no client API: Vulkan presents to it.
/// </summary>
internal static unsafe partial class Glfw
{
    const string Lib = "libglfw.so.3";

    public const int ClientApi = 0x00022001, NoApi = 0;
    public const int Resizable = 0x00020003, Iconified = 0x00020002;
    public const int Release = 0, Press = 1, Repeat = 2;
    public const int ModShift = 1, ModControl = 2;

    public static class Keys
    {
        public const int A = 65, E = 69, Q = 81, R = 82, S = 83, U = 85;
        public const int Escape = 256, Enter = 257, Tab = 258, Backspace = 259, Delete = 261;
        public const int Right = 262, Left = 263, Home = 268, End = 269, KeypadEnter = 335;
    }

    [LibraryImport(Lib, EntryPoint = "glfwInit")] public static partial int Init();
    [LibraryImport(Lib, EntryPoint = "glfwTerminate")] public static partial void Terminate();
    [LibraryImport(Lib, EntryPoint = "glfwGetError")] public static partial int GetError(byte** description);
    [LibraryImport(Lib, EntryPoint = "glfwWindowHint")] public static partial void WindowHint(int hint, int value);
    [LibraryImport(Lib, EntryPoint = "glfwCreateWindow")] public static partial IntPtr CreateWindow(int width, int height, byte* title, IntPtr monitor, IntPtr share);
    [LibraryImport(Lib, EntryPoint = "glfwDestroyWindow")] public static partial void DestroyWindow(IntPtr window);
    [LibraryImport(Lib, EntryPoint = "glfwWindowShouldClose")] public static partial int WindowShouldClose(IntPtr window);
    [LibraryImport(Lib, EntryPoint = "glfwSetWindowShouldClose")] public static partial void SetWindowShouldClose(IntPtr window, int value);
    [LibraryImport(Lib, EntryPoint = "glfwSetWindowTitle")] public static partial void SetWindowTitle(IntPtr window, byte* utf8);
    [LibraryImport(Lib, EntryPoint = "glfwSetWindowSize")] public static partial void SetWindowSize(IntPtr window, int width, int height);
    [LibraryImport(Lib, EntryPoint = "glfwGetFramebufferSize")] public static partial void GetFramebufferSize(IntPtr window, int* width, int* height);
    [LibraryImport(Lib, EntryPoint = "glfwGetWindowAttrib")] public static partial int GetWindowAttrib(IntPtr window, int attrib);
    [LibraryImport(Lib, EntryPoint = "glfwPollEvents")] public static partial void PollEvents();
    [LibraryImport(Lib, EntryPoint = "glfwWaitEvents")] public static partial void WaitEvents();
    [LibraryImport(Lib, EntryPoint = "glfwWaitEventsTimeout")] public static partial void WaitEventsTimeout(double seconds);
    /// <summary>Wakes <see cref="WaitEvents"/> from another thread (thread-safe in GLFW).</summary>
    [LibraryImport(Lib, EntryPoint = "glfwPostEmptyEvent")] public static partial void PostEmptyEvent();

    [LibraryImport(Lib, EntryPoint = "glfwVulkanSupported")] public static partial int VulkanSupported();
    [LibraryImport(Lib, EntryPoint = "glfwGetRequiredInstanceExtensions")] public static partial byte** GetRequiredInstanceExtensions(uint* count);
    [LibraryImport(Lib, EntryPoint = "glfwCreateWindowSurface")] public static partial int CreateWindowSurface(IntPtr instance, IntPtr window, void* allocator, ulong* surface);

    [LibraryImport(Lib, EntryPoint = "glfwSetKeyCallback")] public static partial IntPtr SetKeyCallback(IntPtr window, delegate* unmanaged[Cdecl]<IntPtr, int, int, int, int, void> callback);
    [LibraryImport(Lib, EntryPoint = "glfwSetCharCallback")] public static partial IntPtr SetCharCallback(IntPtr window, delegate* unmanaged[Cdecl]<IntPtr, uint, void> callback);
    [LibraryImport(Lib, EntryPoint = "glfwSetFramebufferSizeCallback")] public static partial IntPtr SetFramebufferSizeCallback(IntPtr window, delegate* unmanaged[Cdecl]<IntPtr, int, int, void> callback);
    [LibraryImport(Lib, EntryPoint = "glfwSetWindowIconifyCallback")] public static partial IntPtr SetWindowIconifyCallback(IntPtr window, delegate* unmanaged[Cdecl]<IntPtr, int, void> callback);
    [LibraryImport(Lib, EntryPoint = "glfwSetWindowRefreshCallback")] public static partial IntPtr SetWindowRefreshCallback(IntPtr window, delegate* unmanaged[Cdecl]<IntPtr, void> callback);
    [LibraryImport(Lib, EntryPoint = "glfwSetDropCallback")] public static partial IntPtr SetDropCallback(IntPtr window, delegate* unmanaged[Cdecl]<IntPtr, int, byte**, void> callback);

    /// <summary>Where libglfw.so.3 is not the library's name (macOS, Windows), loads the platform's GLFW 3 instead.
    /// Call once before the first GLFW function.</summary>
    public static void UsePlatformLibraryName()
    {
        if (OperatingSystem.IsLinux() || _resolverSet) return;
        _resolverSet = true;
        NativeLibrary.SetDllImportResolver(typeof(Glfw).Assembly, (name, assembly, path) =>
        {
            if (name != Lib) return IntPtr.Zero;
            string[] names = OperatingSystem.IsWindows() ? ["glfw3.dll", "glfw.dll"] : ["libglfw.3.dylib", "libglfw.dylib"];
            foreach (var n in names)
                if (NativeLibrary.TryLoad(n, assembly, path, out var handle)) return handle;
            return IntPtr.Zero;
        });
    }
    static bool _resolverSet;

    /// <summary>The last GLFW error as text, for messages.</summary>
    public static string LastError()
    {
        byte* description = null;
        int code = GetError(&description);
        if (code == 0) return "no error reported";
        return $"{Marshal.PtrToStringUTF8((IntPtr)description)} (GLFW error 0x{code:x})";
    }

    public static void SetTitle(IntPtr window, string title)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(title + "\0");
        fixed (byte* p = bytes) SetWindowTitle(window, p);
    }

    /// <summary>The instance extensions GLFW needs for window surfaces (VK_KHR_surface and the platform's).</summary>
    public static string[] RequiredInstanceExtensions()
    {
        uint count = 0;
        byte** names = GetRequiredInstanceExtensions(&count);
        if (names == null) throw new NotSupportedException($"GLFW found no Vulkan window-surface support: {LastError()}");
        var result = new string[count];
        for (int i = 0; i < count; i++) result[i] = Marshal.PtrToStringUTF8((IntPtr)names[i])!;
        return result;
    }
}
