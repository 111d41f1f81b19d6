using System.Diagnostics;
using NUnit.Framework;

namespace T2X.Tests.Host;

/// <summary>Runs the real t2x binary (built with the solution) and captures its exit code and output.</summary>
public static class T2xProcess
{
    public static string Binary
    {
        get
        {
            string config = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd('/'))!)!;
            string dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../Host/bin", config, "net10.0/t2x.dll"));
            if (!File.Exists(dll)) Assert.Fail($"t2x is not built at {dll}: build the solution (dotnet build T2X.Vulkan.sln -c {config})");
            return dll;
        }
    }

    public static (int code, string stdout, string stderr) Run(params string[] args) => RunWith(new Dictionary<string, string>(), args);

    /// <summary>Runs with extra environment variables (e.g. T2X_DEVICE).</summary>
    public static (int code, string stdout, string stderr) RunWith(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        psi.ArgumentList.Add(Binary);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(600_000)) { p.Kill(true); Assert.Fail($"t2x {string.Join(" ", args)} did not finish in 10 minutes"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs t2x and calls <paramref name="action"/> once, as soon as its standard error shows
    /// <paramref name="marker"/> (progress output, read as it comes), while the command goes on working.</summary>
    public static (int code, string stdout, string stderr) RunAndActWhen(string marker, Action action, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Binary);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = new System.Text.StringBuilder();
        bool acted = false;
        for (int c; (c = p.StandardError.Read()) >= 0;)
        {
            stderr.Append((char)c);
            if (!acted && stderr.ToString().Contains(marker))
            {
                acted = true;
                action();
            }
        }
        if (!p.WaitForExit(600_000)) { p.Kill(true); Assert.Fail($"t2x {string.Join(" ", args)} did not finish in 10 minutes"); }
        Assert.That(acted, Is.True, $"t2x never printed '{marker}':\n{stderr}");
        return (p.ExitCode, stdout.Result, stderr.ToString());
    }
}
