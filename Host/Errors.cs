using System.Reflection;
using System.Text.Json;
using T2X.Vulkan;
using T2X.Vulkan.Files;

namespace T2X.Host;

/// <summary>
/// The one place where an exception becomes what a user sees: one message on standard error, "t2x COMMAND: ...", and an
/// exit code. A stack trace is shown only with T2X_DEBUG=1.
/// </summary>
public static class Errors
{
    /// <summary>Exit codes: a bug (an exception nobody expected), a bad command line, a bad input (file, folder, model,
    /// value), the device or memory.</summary>
    public const int Internal = 1, Usage = 2, BadInput = 3, DeviceOrMemory = 4;

    public static int Report(string command, Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } or TargetInvocationException or TypeInitializationException && e.InnerException is not null)
            e = e.InnerException!;
        var (code, message) = Classify(e);
        // Usage errors may end with the usage text (several lines); any other message is one line.
        Console.Error.WriteLine($"t2x {command}: {Terminal.Safe(message, keepNewlines: code == Usage)}");
        if (Environment.GetEnvironmentVariable("T2X_DEBUG") == "1") Console.Error.WriteLine(e);
        return code;
    }

    static (int code, string message) Classify(Exception e) => e switch
    {
        OutputExistsException x => (Usage, $"{x.Path} exists; use --force to overwrite it"),
        UsageException => (Usage, e.Message),
        VulkanException or OutOfMemoryException => (DeviceOrMemory, e.Message),
        IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or NotSupportedException or JsonException
            => (BadInput, e.Message),
        _ => (Internal, $"internal error ({e.GetType().Name}: {e.Message}); T2X_DEBUG=1 shows where"),
    };
}
