using System.Diagnostics;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace T2X.Tests.Host;

/// <summary>
/// The NuGet package as a user gets it: <c>dotnet pack</c> into a local folder feed, a new console project that
/// references it, built and run. Its program is the README's two examples (the library's ten lines and the GEMM
/// kernel), so the README shows code that works: the PNG it writes equals <c>t2x generate</c>'s, and the GEMM result
/// equals a CPU sum. The CLI's .NET tool package is installed from the same feed and run.
/// </summary>
[NonParallelizable]
public class PackageTests
{
    static string RepoRoot => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(T2xProcess.Binary)!, "../../../.."));

    static (int code, string output) Dotnet(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(600_000)) { p.Kill(true); Assert.Fail($"dotnet {string.Join(" ", args)} did not finish in 10 minutes"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>The ```csharp blocks of the README section that starts with <paramref name="heading"/>.</summary>
    static List<string> ReadmeCode(string heading)
    {
        string readme = File.ReadAllText(Path.Combine(RepoRoot, "README.md"));
        int start = readme.IndexOf(heading, StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), $"README has no section '{heading}'");
        int end = readme.IndexOf("\n## ", start + heading.Length, StringComparison.Ordinal);
        string section = readme[start..(end < 0 ? readme.Length : end)];
        return Regex.Matches(section, "```csharp\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();
    }

    [Test]
    public void PackedPackageRunsTheReadmeExamplesInANewProject()
    {
        var blocks = ReadmeCode("## The engine as a library");
        Assert.That(blocks, Has.Count.EqualTo(2), "the README shows the library example and the kernel example");
        string config = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd('/'))!)!;
        string version = $"0.0.0-test{DateTime.UtcNow:yyyyMMddHHmmss}{Random.Shared.Next(1000):000}";
        string dir = Directory.CreateTempSubdirectory("t2x-package-").FullName;
        string cache = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"));
        try
        {
            string feed = Path.Combine(dir, "feed");
            var (packCode, packOutput) = Dotnet(RepoRoot, "pack", "T2X.Vulkan.sln", "-c", config, "--no-build", "-o", feed, $"-p:PackageVersion={version}");
            Assert.That(packCode, Is.EqualTo(0), packOutput);
            Assert.That(File.Exists(Path.Combine(feed, $"T2X.Vulkan.{version}.nupkg")), packOutput);
            Assert.That(File.Exists(Path.Combine(feed, $"T2X.Vulkan.{version}.snupkg")), "symbols package");
            Assert.That(File.Exists(Path.Combine(feed, $"t2x.{version}.nupkg")), "the CLI as a .NET tool");

            // The consumer: Program.cs is the library example, then the kernel example as a method it calls.
            string app = Path.Combine(dir, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration><packageSources><add key="local" value="{feed}" /></packageSources></configuration>
                """);
            File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable><NoWarn>NU1603</NoWarn></PropertyGroup>
                  <ItemGroup><PackageReference Include="T2X.Vulkan" Version="{version}" /></ItemGroup>
                </Project>
                """);
            var directive = new Regex(@"^using [A-Za-z0-9_.]+;\s*$");
            var kernelLines = blocks[1].Split('\n');
            File.WriteAllText(Path.Combine(app, "Program.cs"), blocks[0] + "KernelExample.Run();\n");
            File.WriteAllText(Path.Combine(app, "KernelExample.cs"),
                string.Join("\n", kernelLines.Where(l => directive.IsMatch(l))) + "\nstatic class KernelExample\n{\n    public static void Run()\n    {\n" +
                string.Join("\n", kernelLines.Where(l => !directive.IsMatch(l))) + "\n    }\n}\n");
            var (runCode, runOutput) = Dotnet(app, "run", "-c", "Release");
            Assert.That(runCode, Is.EqualTo(0), runOutput);
            Assert.That(runOutput, Does.Contain("circle.png: seed 1, 64x64"));

            string generated = Path.Combine(dir, "generated.png");
            var (code, _, stderr) = T2xProcess.Run("generate", "a red circle in the center on a blue background", "--seed", "1", "-o", generated);
            Assert.That(code, Is.EqualTo(0), stderr);
            Assert.That(File.ReadAllBytes(Path.Combine(app, "circle.png")), Is.EqualTo(File.ReadAllBytes(generated)), "the package's PNG equals t2x generate's");

            double expected = Enumerable.Range(0, 128).Sum(k => (double)MathF.Sin(k) * MathF.Cos(k));
            var gemm = Regex.Match(runOutput, @"y\[0,0\] = (\S+)");
            Assert.That(gemm.Success, runOutput);
            Assert.That(double.Parse(gemm.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(expected).Within(1e-4));

            // The tool: installed from the feed into a folder, run.
            string tools = Path.Combine(dir, "tools");
            var (installCode, installOutput) = Dotnet(dir, "tool", "install", "t2x", "--version", version, "--tool-path", tools, "--add-source", feed);
            Assert.That(installCode, Is.EqualTo(0), installOutput);
            var psi = new ProcessStartInfo(Path.Combine(tools, "t2x"), "serve --help") { RedirectStandardOutput = true };
            using var tool = Process.Start(psi)!;
            string help = tool.StandardOutput.ReadToEnd();
            tool.WaitForExit();
            Assert.That(tool.ExitCode, Is.EqualTo(0));
            Assert.That(help, Does.Contain("t2x serve"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            foreach (var id in new[] { "t2x.vulkan", "t2x" })
                if (Directory.Exists(Path.Combine(cache, id, version))) Directory.Delete(Path.Combine(cache, id, version), recursive: true);
        }
    }
}
