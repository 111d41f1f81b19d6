using System.Diagnostics;

namespace T2X.Tools;

/// <summary>Debian's PyTorch (apt-get install python3-torch), for the baselines and cross-checks that run only where it is
/// installed (the ptdit bench, tests).</summary>
public static class SystemPyTorch
{
    const string Python = "/usr/bin/python3";

    public static bool Installed()
    {
        try
        {
            var (code, _, _) = Run(["-c", "import torch"]);
            return code == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>Runs /usr/bin/python3 with these arguments; exit code, stdout, stderr.</summary>
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
