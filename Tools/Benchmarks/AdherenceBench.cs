using System.Diagnostics;
using T2X.DataGen;
using T2X.Vulkan;
using T2X.Vulkan.Pipelines;

namespace T2X.Benchmarks;

/// <summary>
/// Prompt adherence of the built-in model through the engine (issue 5's measure): random grammar prompts with a
/// background phrase, generated with `t2x generate`'s pipeline and defaults, read back by <see cref="AdherenceChecker"/>:
/// the share with every named color in its cell and the named background, and the share with every shape right.
/// </summary>
public sealed class AdherenceBench : IBench
{
    public string Name => "adherence";

    public IEnumerable<BenchResult> Run(Gpu gpu, BenchOptions options)
    {
        int count = options.Quick ? 10 : 100;
        using var pipeline = new TextToImage(gpu, ModelFolder.Open(ModelFolder.BuiltinPath));
        var defaults = pipeline.Defaults;
        int colors = 0, shapes = 0, done = 0;
        var clock = Stopwatch.StartNew();
        for (long index = 0; done < count; index++)
        {
            var scene = Scene.ForIndex(2026, index);
            if (!scene.BackgroundNamed) continue;
            var settings = defaults with { Prompt = scene.Caption, Seed = index };
            var rgb = pipeline.GenerateRgb(settings);
            var a = AdherenceChecker.Check(rgb, settings.Width, CaptionParser.Parse(scene.Caption));
            colors += a.AllColors ? 1 : 0;
            shapes += a.AllShapes ? 1 : 0;
            done++;
        }
        yield return new BenchResult("adherence")
            .With("model", pipeline.Model).With("prompts", count)
            .With("colors_percent", 100.0 * colors / count).With("shapes_percent", 100.0 * shapes / count)
            .With("seconds_per_image", clock.Elapsed.TotalSeconds / count);
    }
}
