using System.Buffers.Binary;
using System.Text.Json.Nodes;
using NUnit.Framework;

namespace T2X.Tests.Host;

/// <summary>
/// <c>t2x serve</c> through real HTTP: one server process with the built-in model for the job API, its events, cancel,
/// the compatible endpoints, bad requests and concurrent clients (small images, 2 sampler steps).
/// </summary>
[NonParallelizable]
public class ServeTests
{
    string _dir = "";
    ServeProcess _server = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _dir = Directory.CreateTempSubdirectory("t2x-serve-").FullName;
        _server = new ServeProcess(Path.Combine(_dir, "out"));
    }

    [OneTimeTearDown]
    public void End()
    {
        _server.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    internal static (int Width, int Height) PngSize(byte[] png)
    {
        Assert.That(png.Take(8).ToArray(), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "not a PNG");
        return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    [Test]
    public async Task HealthAndModelsDescribeTheServer()
    {
        var (status, health) = await _server.Get("v1/health");
        Assert.That(status, Is.EqualTo(200));
        Assert.That(health!["status"]!.GetValue<string>(), Is.EqualTo("ok"));
        Assert.That(health["model"]!.GetValue<string>(), Is.EqualTo("t2x-builtin-shapes"));
        var (modelsStatus, models) = await _server.Get("v1/models");
        Assert.That(modelsStatus, Is.EqualTo(200));
        var model = models!["data"]![0]!;
        Assert.That(model["id"]!.GetValue<string>(), Is.EqualTo("t2x-builtin-shapes"));
        Assert.That(model["defaults"]!["width"]!.GetValue<int>(), Is.EqualTo(64));
        Assert.That(model["defaults"]!["steps"]!.GetValue<int>(), Is.EqualTo(20));
        using var page = await _server.Http.GetAsync("");
        Assert.That((int)page.StatusCode, Is.EqualTo(200));
        Assert.That(page.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
        Assert.That(await page.Content.ReadAsStringAsync(), Does.Contain("/v1/jobs"));
    }

    /// <summary>A job from queued to done: one progress event per step, previews (PNGs of the clean-image estimate), the
    /// done event; its PNG is byte-identical to `t2x generate`'s with the same settings and lies in the output folder; a
    /// client that connects late gets the state first and the same events.</summary>
    [Test]
    public async Task JobRunsWithProgressPreviewsAndThePngOfGenerate()
    {
        const string prompt = "a red circle in the center on a blue background";
        string id = await _server.Submit($$"""{"prompt": "{{prompt}}", "seed": 5, "steps": 2, "cfg": 4, "width": 64, "height": 64}""");
        var events = await _server.Events(id);
        var names = events.Select(e => e.Name).ToList();
        Assert.That(names[0], Is.EqualTo("state"));
        Assert.That(names[^1], Is.EqualTo("done"), string.Join(",", names));
        var progress = events.Where(e => e.Name == "progress").Select(e => e.Data).ToList();
        Assert.That(progress.Select(p => p["step"]!.GetValue<int>()), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(progress.All(p => p["steps"]!.GetValue<int>() == 2 && p["seconds"]!.GetValue<double>() >= 0));
        var previews = events.Where(e => e.Name == "preview").Select(e => e.Data).ToList();
        Assert.That(previews, Is.Not.Empty);
        foreach (var p in previews) Assert.That(PngSize(Convert.FromBase64String(p["png"]!.GetValue<string>())), Is.EqualTo((64, 64)));

        var (status, job) = await _server.Get($"v1/jobs/{id}");
        Assert.That(status, Is.EqualTo(200));
        Assert.That(job!["status"]!.GetValue<string>(), Is.EqualTo("done"));
        Assert.That(job["step"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(job["seed"]!.GetValue<long>(), Is.EqualTo(5));
        Assert.That(job["images"]!.AsArray().Select(u => u!.GetValue<string>()), Is.EqualTo(new[] { $"/v1/jobs/{id}/images/0.png" }));
        var png = await _server.Image(id, 0);
        Assert.That(File.ReadAllBytes(Path.Combine(_server.OutputDir, id, "0.png")), Is.EqualTo(png), "the output folder holds the served PNG");

        string generated = Path.Combine(_dir, "generated.png");
        var (code, _, stderr) = T2xProcess.Run("generate", prompt, "--seed", "5", "--steps", "2", "--cfg", "4", "--width", "64", "--height", "64", "-o", generated);
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(png, Is.EqualTo(File.ReadAllBytes(generated)), "the served PNG equals t2x generate's");

        var late = await _server.Events(id);
        Assert.That(late[0].Name, Is.EqualTo("state"));
        Assert.That(late[0].Data["status"]!.GetValue<string>(), Is.EqualTo("done"));
        Assert.That(late.Count(e => e.Name == "progress"), Is.EqualTo(2));
        Assert.That(late[^1].Name, Is.EqualTo("done"));
    }

    static IEnumerable<TestCaseData> BadJobs()
    {
        yield return new TestCaseData("{\"prompt\": ", "").SetName("BadJob_NotJson");
        yield return new TestCaseData("[1, 2]", "").SetName("BadJob_NotAnObject");
        yield return new TestCaseData("{\"steps\": 2}", "prompt").SetName("BadJob_NoPrompt");
        yield return new TestCaseData("{\"prompt\": 3}", "prompt").SetName("BadJob_PromptNotText");
        yield return new TestCaseData("{\"prompt\": \"x\", \"steps\": \"two\"}", "steps").SetName("BadJob_StepsNotANumber");
        yield return new TestCaseData("{\"prompt\": \"x\", \"steps\": 0}", "steps").SetName("BadJob_ZeroSteps");
        yield return new TestCaseData("{\"prompt\": \"x\", \"cfg\": 1e9}", "cfg").SetName("BadJob_HugeCfg");
        yield return new TestCaseData("{\"prompt\": \"x\", \"width\": 0}", "width").SetName("BadJob_ZeroWidth");
        yield return new TestCaseData("{\"prompt\": \"x\", \"height\": 99999}", "height").SetName("BadJob_HugeHeight");
        yield return new TestCaseData("{\"prompt\": \"x\", \"seed\": 1.5}", "seed").SetName("BadJob_FractionalSeed");
        yield return new TestCaseData("{\"prompt\": \"x\", \"count\": 17}", "count").SetName("BadJob_TooMany");
        yield return new TestCaseData("{\"prompt\": \"x\", \"stepz\": 2}", "stepz").SetName("BadJob_UnknownField");
    }

    [TestCaseSource(nameof(BadJobs))]
    public async Task BadJobIsRefusedWithTheFieldNamed(string body, string field)
    {
        var (status, json) = await _server.Post("v1/jobs", body);
        Assert.That(status, Is.EqualTo(400), json?.ToJsonString());
        string error = json!["error"]!.GetValue<string>();
        Assert.That(error, Is.Not.Empty);
        if (field != "")
        {
            Assert.That(json["field"]!.GetValue<string>(), Is.EqualTo(field));
            Assert.That(error, Does.Contain(field));
        }
    }

    [Test]
    public async Task OversizedBodyUnknownJobsAndImagesAreRefused()
    {
        var (big, bigJson) = await _server.Post("v1/jobs", $"{{\"prompt\": \"{new string('a', 70_000)}\"}}");
        Assert.That(big, Is.EqualTo(413), bigJson?.ToJsonString());
        Assert.That(bigJson!["error"]!.GetValue<string>(), Does.Contain("larger"));
        foreach (var (method, path) in new[] { (HttpMethod.Get, "v1/jobs/0123456789ab"), (HttpMethod.Delete, "v1/jobs/0123456789ab"),
                                                (HttpMethod.Get, "v1/jobs/0123456789ab/events"), (HttpMethod.Get, "v1/jobs/../../etc/images/0.png"),
                                                (HttpMethod.Get, "v1/nothing") })
        {
            var (status, json) = await _server.Send(method, path);
            Assert.That(status, Is.EqualTo(404), $"{method} {path}");
            Assert.That(json!["error"], Is.Not.Null);
        }
        string id = await _server.Submit("{\"prompt\": \"a blue square\", \"steps\": 1}");
        await _server.Events(id);
        var (outOfRange, _) = await _server.Get($"v1/jobs/{id}/images/1.png");
        Assert.That(outOfRange, Is.EqualTo(404));
        var (again, conflict) = await _server.Send(HttpMethod.Delete, $"v1/jobs/{id}");
        Assert.That(again, Is.EqualTo(409), "a finished job cannot be cancelled");
        Assert.That(conflict!["error"]!.GetValue<string>(), Does.Contain("done"));
    }

    /// <summary>DELETE stops a running job within a step and removes a queued one before it runs.</summary>
    [Test]
    public async Task CancelStopsARunningJobAndAQueuedOne()
    {
        string running = await _server.Submit("{\"prompt\": \"a green circle\", \"steps\": 500}");
        string queued = "";
        var cancelled = new TaskCompletionSource();
        var events = await _server.Events(running, (name, _) =>
        {
            if (name != "progress" || cancelled.Task.IsCompleted) return;
            cancelled.SetResult();
            // The first job runs: a second one waits behind it and is cancelled while it waits; then the first.
            queued = _server.Submit("{\"prompt\": \"a red square\", \"steps\": 2}").GetAwaiter().GetResult();
            var (q, qJson) = _server.Send(HttpMethod.Delete, $"v1/jobs/{queued}").GetAwaiter().GetResult();
            Assert.That(q, Is.EqualTo(202), qJson?.ToJsonString());
            Assert.That(qJson!["status"]!.GetValue<string>(), Is.EqualTo("cancelled"), "a queued job is cancelled at once");
            var (r, _) = _server.Send(HttpMethod.Delete, $"v1/jobs/{running}").GetAwaiter().GetResult();
            Assert.That(r, Is.EqualTo(202));
        });
        Assert.That(events[^1].Name, Is.EqualTo("cancelled"));
        var (_, job) = await _server.Get($"v1/jobs/{running}");
        Assert.That(job!["status"]!.GetValue<string>(), Is.EqualTo("cancelled"));
        Assert.That(job["step"]!.GetValue<int>(), Is.LessThan(500));
        Assert.That(job["images"]!.AsArray(), Is.Empty);
        var (_, other) = await _server.Get($"v1/jobs/{queued}");
        Assert.That(other!["status"]!.GetValue<string>(), Is.EqualTo("cancelled"));
        Assert.That(other["step"]!.GetValue<int>(), Is.EqualTo(0), "the queued job never ran");
        var queuedEvents = await _server.Events(queued);
        Assert.That(queuedEvents.Select(e => e.Name), Is.EqualTo(new[] { "state", "cancelled" }));
    }

    /// <summary>Five clients at once, each following its own job: every job finishes with its own image.</summary>
    [Test]
    public async Task FiveConcurrentClientsEachGetTheirImage()
    {
        var clients = Enumerable.Range(0, 5).Select(async i =>
        {
            string id = await _server.Submit($"{{\"prompt\": \"a yellow triangle\", \"seed\": {100 + i}, \"steps\": 2}}");
            var events = await _server.Events(id);
            Assert.That(events[^1].Name, Is.EqualTo("done"), $"client {i}");
            Assert.That(events.Count(e => e.Name == "progress"), Is.EqualTo(2), $"client {i}");
            return (id, png: await _server.Image(id, 0));
        }).ToList();
        var results = await Task.WhenAll(clients);
        Assert.That(results.Select(r => r.id).Distinct().Count(), Is.EqualTo(5));
        Assert.That(results.Select(r => Convert.ToHexString(r.png)).Distinct().Count(), Is.EqualTo(5), "five seeds, five different images");
        var (_, list) = await _server.Get("v1/jobs");
        var listed = list!["jobs"]!.AsArray().Select(j => j!["id"]!.GetValue<string>()).ToHashSet();
        Assert.That(results.All(r => listed.Contains(r.id)), "every job is listed");
    }

    /// <summary>The OpenAI- and AUTOMATIC1111-compatible endpoints answer synchronously with base64 PNGs; the A1111
    /// image equals the job API's for the same settings.</summary>
    [Test]
    public async Task CompatibleEndpointsAnswerWithImages()
    {
        var (status, openai) = await _server.Post("v1/images/generations",
            """{"prompt": "a cyan circle on the left", "n": 2, "size": "64x64", "response_format": "b64_json", "model": "ignored"}""");
        Assert.That(status, Is.EqualTo(200), openai?.ToJsonString());
        Assert.That(openai!["created"]!.GetValue<long>(), Is.GreaterThan(0));
        var data = openai["data"]!.AsArray();
        Assert.That(data, Has.Count.EqualTo(2));
        foreach (var d in data) Assert.That(PngSize(Convert.FromBase64String(d!["b64_json"]!.GetValue<string>())), Is.EqualTo((64, 64)));
        var (urlStatus, urlJson) = await _server.Post("v1/images/generations", """{"prompt": "a cyan circle on the left", "size": "64x64", "response_format": "url", "seed": 9}""");
        Assert.That(urlStatus, Is.EqualTo(200), urlJson?.ToJsonString());
        var url = new Uri(urlJson!["data"]![0]!["url"]!.GetValue<string>());
        Assert.That(PngSize(await _server.Http.GetByteArrayAsync(url)), Is.EqualTo((64, 64)));
        var (badSize, badJson) = await _server.Post("v1/images/generations", """{"prompt": "x", "size": "big"}""");
        Assert.That(badSize, Is.EqualTo(400));
        Assert.That(badJson!["field"]!.GetValue<string>(), Is.EqualTo("size"));

        var (a1111Status, a1111) = await _server.Post("sdapi/v1/txt2img",
            """{"prompt": "a magenta square", "negative_prompt": "", "seed": 7, "steps": 2, "cfg_scale": 4, "width": 64, "height": 64, "batch_size": 1, "sampler_name": "ignored"}""");
        Assert.That(a1111Status, Is.EqualTo(200), a1111?.ToJsonString());
        var images = a1111!["images"]!.AsArray();
        Assert.That(images, Has.Count.EqualTo(1));
        Assert.That(a1111["parameters"]!["seed"]!.GetValue<long>(), Is.EqualTo(7));
        var info = JsonNode.Parse(a1111["info"]!.GetValue<string>())!;
        Assert.That(info["seed"]!.GetValue<long>(), Is.EqualTo(7));
        string id = await _server.Submit("""{"prompt": "a magenta square", "seed": 7, "steps": 2, "cfg": 4, "width": 64, "height": 64}""");
        await _server.Events(id);
        Assert.That(Convert.FromBase64String(images[0]!.GetValue<string>()), Is.EqualTo(await _server.Image(id, 0)));
    }
}

/// <summary>A server with a token and a device memory budget too small for the model: the token guards every endpoint but
/// /v1/health; a job the device cannot hold fails with a clear error and the server keeps serving.</summary>
[NonParallelizable]
public class ServeTokenAndMemoryTests
{
    [Test]
    public async Task TokenGuardsEndpointsAndOutOfMemoryFailsOnlyTheJob()
    {
        var dir = Directory.CreateTempSubdirectory("t2x-serve-token-").FullName;
        try
        {
            using var server = new ServeProcess(Path.Combine(dir, "out"), "--token", "s3cret", "--memory-budget", "0.001");
            var (health, _) = await server.Get("v1/health");
            Assert.That(health, Is.EqualTo(200), "health needs no token");
            foreach (var (method, path, body) in new[] { (HttpMethod.Post, "v1/jobs", "{\"prompt\": \"x\"}"), (HttpMethod.Get, "v1/jobs", null),
                                                         (HttpMethod.Get, "v1/models", null), (HttpMethod.Get, "", null),
                                                         (HttpMethod.Post, "v1/images/generations", "{\"prompt\": \"x\"}"),
                                                         (HttpMethod.Post, "sdapi/v1/txt2img", "{\"prompt\": \"x\"}") })
            {
                var (status, json) = await server.Send(method, path, body);
                Assert.That(status, Is.EqualTo(401), $"{method} /{path} without a token");
                Assert.That(json!["error"]!.GetValue<string>(), Does.Contain("token"));
            }
            server.Authorize("wrong");
            Assert.That((await server.Get("v1/models")).Status, Is.EqualTo(401), "a wrong token");
            using (var page = await new HttpClient().GetAsync(new Uri(server.BaseUrl, "?token=s3cret")))
                Assert.That((int)page.StatusCode, Is.EqualTo(200), "the page opens with ?token=");

            server.Authorize("s3cret");
            Assert.That((await server.Get("v1/models")).Status, Is.EqualTo(200));
            string id = await server.Submit("{\"prompt\": \"a red circle\", \"steps\": 2}");
            var events = await server.Events(id);
            Assert.That(events[^1].Name, Is.EqualTo("failed"));
            Assert.That(events[^1].Data["error"]!.GetValue<string>(), Does.Contain("device memory"));
            var (_, job) = await server.Get($"v1/jobs/{id}");
            Assert.That(job!["status"]!.GetValue<string>(), Is.EqualTo("failed"));
            Assert.That(job["error"]!.GetValue<string>(), Does.Contain("out of memory"));
            var (sync, syncJson) = await server.Post("sdapi/v1/txt2img", "{\"prompt\": \"x\", \"steps\": 2}");
            Assert.That(sync, Is.EqualTo(500));
            Assert.That(syncJson!["error"]!.GetValue<string>(), Does.Contain("device memory"));
            Assert.That((await server.Get("v1/health")).Status, Is.EqualTo(200), "the server goes on serving");
            Assert.That(server.Stop(), Is.EqualTo(0), server.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

/// <summary>Results outlive the process: a stopped and restarted server lists its finished jobs with the same PNGs and
/// runs again the job it was stopped in; a full queue answers 429.</summary>
[NonParallelizable]
public class ServeRestartTests
{
    [Test]
    public async Task RestartKeepsResultsAndResumesUnfinishedJobs()
    {
        var dir = Directory.CreateTempSubdirectory("t2x-serve-restart-").FullName;
        string output = Path.Combine(dir, "out");
        try
        {
            string done, interrupted, waiting;
            byte[] first, second;
            using (var server = new ServeProcess(output, "--max-queue", "1"))
            {
                done = await server.Submit("{\"prompt\": \"a white circle\", \"seed\": 3, \"steps\": 2, \"count\": 2}");
                Assert.That((await server.Events(done))[^1].Name, Is.EqualTo("done"));
                first = await server.Image(done, 0);
                second = await server.Image(done, 1);
                Assert.That(first, Is.Not.EqualTo(second));

                interrupted = await server.Submit("{\"prompt\": \"a black square\", \"steps\": 500}");
                waiting = "";
                await server.Events(interrupted, (name, _) =>
                {
                    if (name != "progress" || waiting != "") return;
                    // It runs; one more may wait (--max-queue 1), the next is refused.
                    waiting = server.Submit("{\"prompt\": \"a blue circle\", \"steps\": 2}").GetAwaiter().GetResult();
                    var (full, json) = server.Post("v1/jobs", "{\"prompt\": \"x\", \"steps\": 2}").GetAwaiter().GetResult();
                    Assert.That(full, Is.EqualTo(429), json?.ToJsonString());
                    Assert.That(json!["error"]!.GetValue<string>(), Does.Contain("queue"));
                    Assert.That(server.Stop(), Is.EqualTo(0), server.Stderr);
                });
            }
            using (var server = new ServeProcess(output))
            {
                var (_, list) = await server.Get("v1/jobs");
                var jobs = list!["jobs"]!.AsArray().ToDictionary(j => j!["id"]!.GetValue<string>(), j => j!);
                Assert.That(jobs.Keys, Is.SupersetOf(new[] { done, interrupted, waiting }));
                Assert.That(jobs[done]["status"]!.GetValue<string>(), Is.EqualTo("done"));
                Assert.That(jobs[done]["images"]!.AsArray(), Has.Count.EqualTo(2));
                Assert.That(await server.Image(done, 0), Is.EqualTo(first));
                Assert.That(await server.Image(done, 1), Is.EqualTo(second));
                Assert.That(jobs[interrupted]["status"]!.GetValue<string>(), Is.AnyOf("queued", "running"), "the interrupted job runs again");
                Assert.That((await server.Send(HttpMethod.Delete, $"v1/jobs/{interrupted}")).Status, Is.EqualTo(202));
                var resumed = await server.Events(waiting);
                Assert.That(resumed[^1].Name, Is.EqualTo("done"), "the job that waited runs after the restart");
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
