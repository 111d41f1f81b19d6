using System.Diagnostics;
using NUnit.Framework;
using T2X.Tests.Host;
using T2X.Vulkan.Imaging;

namespace T2X.Tests.Pipelines;

/// <summary>
/// The released model's shapes end to end: writes the parts with random weights in the released shapes and formats
/// for all three models (<see cref="ReleasedModelFolder"/>, ~12 GB), builds the model folder from them with `t2x import`
/// (linked; at the released widths with the released values, no hand-written file), prints `t2x generate --dry-run` for
/// 1024² and 8 GiB and 24 GiB devices, runs `t2x generate --model DIR --width 256 --height 256 --steps 2 --memory-budget 8` and prints
/// the time and device peak of every stage; deletes the folder afterwards. Run it through Tools/released-e2e.sh.
/// Environment: T2X_E2E_DIR (where the folder goes; default the temp folder), T2X_E2E_REDUCE (1 = released widths;
/// 2, 4, 8 divide the widths for a quick check of the same path), T2X_E2E_SIZE (pixels per side, default 256),
/// T2X_E2E_DRY_RUN_ONLY=1 (write the folder and print the plan, do not generate), T2X_E2E_KEEP=1 (keep the folders, e.g.
/// to run a generation longer than the test's 10 minutes by hand).
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
        string root = Path.Combine(Env("T2X_E2E_DIR", Path.GetTempPath()), $"t2x-released-e2e-{Environment.ProcessId}"), dir = root;
        void Log(string line) => TestContext.Progress.WriteLine(line);
        try
        {
            var clock = Stopwatch.StartNew();
            string parts = Path.Combine(dir, "downloads");
            ReleasedModelFolder.Write(parts, reduce, Log);
            Log($"parts written in {clock.Elapsed.TotalSeconds:F0} s: {parts}");

            // The model folder comes from `t2x import` of the parts, linked: at the released widths with the released
            // values (no --config), reduced with an inference config of the reduced widths.
            string model = Path.Combine(dir, "model");
            string[] import = ["import", "--transformer", Path.Combine(parts, "transformer", "model.pt"), "--text-encoder", Path.Combine(parts, "text_encoder"),
                "--tokenizer", Path.Combine(parts, "tokenizer"), "--vae", Path.Combine(parts, "vae"), "--output", model];
            if (reduce != 1)
            {
                string config = Path.Combine(dir, "inference_model_image.json");
                var json = T2X.Vulkan.Pipelines.ModelImport.ReleasedConfig();
                json["predictor"] = System.Text.Json.Nodes.JsonNode.Parse(ReleasedModelFolder.Configs(reduce).transformer.ToJson());
                File.WriteAllText(config, json.ToJsonString());
                import = [.. import, "--config", config];
            }
            clock.Restart();
            var imported = T2xProcess.Run(import);
            Log(imported.stdout + imported.stderr);
            Log($"t2x import: exit {imported.code} in {clock.Elapsed.TotalSeconds:F1} s");
            Assert.That(imported.code, Is.EqualTo(0), imported.stderr);

            foreach (var gib in new[] { "8", "24" })
            {
                var plan = T2xProcess.Run("generate", "--model", model, "--dry-run", "--memory-budget", gib);
                Log(plan.stdout + plan.stderr);
                Assert.That(plan.code, Is.EqualTo(0), plan.stderr);
                Assert.That(plan.stdout, Does.Contain("plan for 1024x1024").And.Contain("weights: 1416 tensors, 1416 bf16"));
            }
            if (dryRunOnly) return;
            dir = model;

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
            if (Env("T2X_E2E_KEEP", "0") == "1") Log($"kept: {root}");
            else if (Directory.Exists(root)) Directory.Delete(root, true);
        }
    }
}
