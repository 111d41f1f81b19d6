using System.Diagnostics;
using NUnit.Framework;
using T2X.Tests.Host;
using T2X.Vulkan.Imaging;

namespace T2X.Tests.Pipelines;

/// <summary>
/// The released model's shapes end to end: writes a folder with random weights in the released shapes and formats
/// for all three models (<see cref="ReleasedModelFolder"/>, ~12 GB), prints `t2x generate --dry-run` for 1024² and
/// an 8 GiB device, runs `t2x generate --model DIR --width 256 --height 256 --steps 2 --memory-budget 8` and prints
/// the time and device peak of every stage; deletes the folder afterwards. Run it through Tools/released-e2e.sh.
/// Environment: T2X_E2E_DIR (where the folder goes; default the temp folder), T2X_E2E_REDUCE (1 = released widths;
/// 2, 4, 8 divide the widths for a quick check of the same path), T2X_E2E_SIZE (pixels per side, default 256),
/// T2X_E2E_DRY_RUN_ONLY=1 (write the folder and print the plan, do not generate).
/// </summary>
[Explicit("writes ~12 GB of random weights in the released shapes and runs the whole pipeline (long on lavapipe)")]
public sealed class ReleasedEndToEndRun
{
    static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;

    [Test]
    public void GeneratesWithTheReleasedShapes()
    {
        int reduce = int.Parse(Env("T2X_E2E_REDUCE", "1"));
        int size = int.Parse(Env("T2X_E2E_SIZE", "256"));
        bool dryRunOnly = Env("T2X_E2E_DRY_RUN_ONLY", "0") == "1";
        string dir = Path.Combine(Env("T2X_E2E_DIR", Path.GetTempPath()), $"t2x-released-e2e-{Environment.ProcessId}");
        void Log(string line) => TestContext.Progress.WriteLine(line);
        try
        {
            var clock = Stopwatch.StartNew();
            ReleasedModelFolder.Write(dir, reduce, Log);
            Log($"folder written in {clock.Elapsed.TotalSeconds:F0} s: {dir}");

            var plan = T2xProcess.Run("generate", "--model", dir, "--dry-run", "--memory-budget", "8");
            Log(plan.stdout + plan.stderr);
            Assert.That(plan.code, Is.EqualTo(0), plan.stderr);
            Assert.That(plan.stdout, Does.Contain("plan for 1024x1024").And.Contain("weights: 1416 tensors, 1416 bf16"));
            if (dryRunOnly) return;

            string output = Path.Combine(dir, "e2e.png");
            clock.Restart();
            var (code, stdout, stderr) = T2xProcess.Run("generate", "a red circle in the center", "--model", dir, "--width", $"{size}", "--height", $"{size}",
                "--steps", "2", "--seed", "1", "--memory-budget", "8", "-o", output);
            Log(stderr + stdout);
            Log($"t2x generate: exit {code} in {clock.Elapsed.TotalSeconds:F0} s");
            Assert.That(code, Is.EqualTo(0), stderr);
            Assert.That(stderr, Does.Contain("text encoder (T5):").And.Contain("transformer (PT-DiT):").And.Contain("VAE decoder:"));
            var meta = PngMetadata.Read(output);
            Assert.That((meta.Settings.Width, meta.Settings.Height, meta.Settings.Steps), Is.EqualTo((size, size, 2)));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }
}
