using System.Diagnostics;

namespace T2X.Benchmarks;

/// <summary>Debian's PyTorch (apt-get install python3-torch), for the baselines and cross-checks that run only where it is
/// installed (the ptdit bench, tests). T2X_PYTHON names another interpreter (e.g. a CUDA PyTorch's on a GPU machine,
/// Tools/gpu/proof.sh); T2X_TORCH_DEVICE (cpu by default, e.g. cuda) is where the ptdit bench's peer runs.</summary>
public static class SystemPyTorch
{
    static string Python => Environment.GetEnvironmentVariable("T2X_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";

    /// <summary>Where the PyTorch peers run: T2X_TORCH_DEVICE, else cpu.</summary>
    public static string Device => Environment.GetEnvironmentVariable("T2X_TORCH_DEVICE") is { Length: > 0 } d ? d : "cpu";

    public static bool Installed()
    {
        try
        {
            var (code, _, _) = Run(["-c", "import torch"]);
            return code == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>Runs /usr/bin/python3 (or T2X_PYTHON) with these arguments; exit code, stdout, stderr.</summary>
    public static (int Code, string Output, string Errors) Run(IEnumerable<string> arguments)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        using var proc = Process.Start(psi)!;
        var errors = proc.StandardError.ReadToEndAsync();
        string output = proc.StandardOutput.ReadToEnd();
        proc.WaitForExit();
        return (proc.ExitCode, output, errors.Result);
    }
}
