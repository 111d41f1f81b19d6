using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using T2X.Vulkan;
using T2X.Vulkan.Pipelines;

namespace T2X.Host.Serve;

/// <summary>What <c>t2x serve</c> was asked for.</summary>
public sealed record ServeOptions
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 7860;
    public string? Model { get; init; }
    public string? Device { get; init; }
    public string OutputDir { get; init; } = "t2x-serve";
    public string? Token { get; init; }
    public int MaxQueue { get; init; } = 32;
    public long? MemoryBudget { get; init; }
}

/// <summary>
/// <c>t2x serve</c>: the engine over HTTP on Kestrel. One worker per device runs a FIFO queue of jobs
/// (<see cref="JobQueue"/>); clients follow a job through server-sent events (a progress event per sampler step, a
/// preview PNG of the step's clean-image estimate, a final event), fetch its PNGs (the bytes <c>t2x generate</c>
/// writes), or use the OpenAI- and AUTOMATIC1111-compatible synchronous endpoints. With a token every endpoint but
/// /v1/health needs <c>Authorization: Bearer TOKEN</c> (the page at / also takes <c>?token=</c>, since a browser
/// opening a link sends no header).
/// </summary>
public static class Server
{
    /// <summary>The largest request body taken (larger: 413).</summary>
    public const int MaxBodyBytes = 64 * 1024;

    public static int Run(ServeOptions options)
    {
        var address = Address(options.Host);
        if (!IPAddress.IsLoopback(address) && options.Token is null)
            Console.Error.WriteLine($"t2x serve: warning: listening on {address} without --token: anyone who can reach this port can run jobs on the device");
        Console.Error.WriteLine($"t2x serve: opening the model {(options.Model is null ? "(built-in)" : Terminal.Safe(options.Model))}");
        using var generator = ImageGenerator.Open(options.Model, new GeneratorOptions { Device = options.Device, MemoryBudgetBytes = options.MemoryBudget });
        _ = generator.ModelHash;   // a model folder that cannot be read whole fails now, not at the first job
        var queue = new JobQueue(generator, options.OutputDir, options.MaxQueue);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = DrainBytes;
            k.AddServerHeader = false;
            k.Listen(address, options.Port);
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(30));
        var app = builder.Build();
        var stopping = app.Lifetime.ApplicationStopping;

        app.Use(async (context, next) =>
        {
            if (options.Token is { } token && context.Request.Path != "/v1/health" && !Authorized(context, token))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await Error(context, 401, "", "missing or wrong token: send Authorization: Bearer TOKEN");
                return;
            }
            try { await next(context); }
            catch (BadHttpRequestException e) when (!context.Response.HasStarted)
            {
                await Error(context, e.StatusCode, "", e.StatusCode == 413 ? $"the body is larger than {MaxBodyBytes} bytes" : e.Message);
            }
        });
        Map(app, queue, stopping);

        using var stop = new CancellationTokenSource();
        Task worker = Task.CompletedTask;
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            worker = Task.Run(() => queue.RunAsync(stop.Token));
            var (queued, _) = queue.Counts();
            Console.WriteLine($"t2x serve: listening on http://{Url(app)} (model {Terminal.Safe(generator.Model)} on {generator.Device.Name}; " +
                              $"results in {queue.Root}{(queued > 0 ? $"; {queued} unfinished jobs queued again" : "")})");
        });
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            Console.Error.WriteLine("t2x serve: stopping (a running job is stopped and runs again after a restart)");
            stop.Cancel();
        });
        try { app.Run(); }
        catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException || e.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"cannot listen on {options.Host}:{options.Port}: {e.Message}");
        }
        stop.Cancel();
        worker.Wait();
        Console.Error.WriteLine("t2x serve: stopped");
        return 0;
    }

    static string Url(WebApplication app)
    {
        var feature = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>();
        string a = feature?.Addresses.FirstOrDefault() ?? "";
        return a.Replace("http://", "");
    }

    static IPAddress Address(string host)
    {
        if (host == "localhost") return IPAddress.Loopback;
        if (IPAddress.TryParse(host, out var ip)) return ip;
        try { return Dns.GetHostAddresses(host).First(); }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidOperationException)
        {
            throw new UsageException($"--host {host}: not an IP address or a name this machine resolves");
        }
    }

    static bool Authorized(HttpContext context, string token)
    {
        string given = context.Request.Headers.Authorization.ToString();
        if (given.StartsWith("Bearer ", StringComparison.Ordinal)) given = given["Bearer ".Length..];
        else if (context.Request.Path == "/" && context.Request.Method == "GET") given = context.Request.Query["token"].ToString();
        else return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(token));
    }

    static void Map(WebApplication app, JobQueue queue, CancellationToken stopping)
    {
        var generator = queue.Generator;

        app.MapGet("/", async context =>
        {
            context.Response.ContentType = "text/html; charset=utf-8";
            context.Response.Headers.CacheControl = "no-store";
            using var page = typeof(Server).Assembly.GetManifestResourceStream("serve-index.html")!;
            await page.CopyToAsync(context.Response.Body);
        });

        app.MapGet("/v1/health", context =>
        {
            var (queued, running) = queue.Counts();
            return Json(context, 200, new JsonObject
            {
                ["status"] = stopping.IsCancellationRequested ? "stopping" : "ok",
                ["model"] = generator.Model,
                ["device"] = generator.Device.Name,
                ["queued"] = queued,
                ["running"] = running,
                ["version"] = ModelFolder.EngineVersion,
            });
        });

        app.MapGet("/v1/models", context =>
        {
            var d = generator.Defaults;
            return Json(context, 200, new JsonObject
            {
                ["object"] = "list",
                ["data"] = new JsonArray(new JsonObject
                {
                    ["id"] = generator.Model,
                    ["object"] = "model",
                    ["owned_by"] = "t2x",
                    ["hash"] = generator.ModelHash,
                    ["defaults"] = new JsonObject
                    {
                        ["steps"] = d.Steps, ["cfg"] = d.Cfg, ["width"] = d.Width, ["height"] = d.Height, ["negative_prompt"] = d.Negative,
                    },
                }),
            });
        });

        app.MapPost("/v1/jobs", async context =>
        {
            var (job, position) = await Submit(context, queue, body => Requests.Job(body));
            if (job is null) return;
            context.Response.Headers.Location = $"/v1/jobs/{job.Id}";
            await Json(context, 202, new JsonObject { ["id"] = job.Id, ["status"] = JobStatus.Queued, ["queue_position"] = position });
        });

        app.MapGet("/v1/jobs", context =>
            Json(context, 200, new JsonObject { ["jobs"] = new JsonArray(queue.All().Select(j => (JsonNode)j.ToJson(queue.Position(j))).ToArray()) }));

        app.MapGet("/v1/jobs/{id}", (HttpContext context, string id) =>
            queue.Find(id) is { } job ? Json(context, 200, job.ToJson(queue.Position(job))) : NotFound(context, id));

        app.MapDelete("/v1/jobs/{id}", (HttpContext context, string id) =>
        {
            if (queue.Find(id) is not { } job) return NotFound(context, id);
            if (!queue.Cancel(job)) return Error(context, 409, "", $"job {id} is {job.Status} already");
            return Json(context, 202, job.ToJson(queue.Position(job)));
        });

        app.MapGet("/v1/jobs/{id}/images/{name}", async (HttpContext context, string id, string name) =>
        {
            if (queue.Find(id) is not { } job) { await NotFound(context, id); return; }
            if (!name.EndsWith(".png") || !int.TryParse(name[..^4], System.Globalization.NumberStyles.None, null, out int i) || i >= job.Count)
            {
                await Error(context, 404, "", $"job {id} has images 0.png to {job.Count - 1}.png, not {name}");
                return;
            }
            if (!File.Exists(job.ImagePath(i)))
            {
                await Error(context, 404, "", $"image {i} of job {id} is not made yet (job {job.Status})");
                return;
            }
            context.Response.ContentType = "image/png";
            await context.Response.SendFileAsync(job.ImagePath(i));
        });

        app.MapGet("/v1/jobs/{id}/events", async (HttpContext context, string id) =>
        {
            if (queue.Find(id) is not { } job) { await NotFound(context, id); return; }
            await Events(context, job, stopping);
        });

        app.MapPost("/v1/images/generations", async context =>
        {
            string format = "b64_json";
            var (job, _) = await Submit(context, queue, body =>
            {
                var (request, count, f) = Requests.OpenAi(body);
                format = f;
                return (request, count);
            });
            if (job is null || !await Wait(context, job)) return;
            string origin = $"{context.Request.Scheme}://{context.Request.Host}";
            await Json(context, 200, new JsonObject
            {
                ["created"] = new DateTimeOffset(job.Created).ToUnixTimeSeconds(),
                ["data"] = new JsonArray(Enumerable.Range(0, job.Count).Select(i => (JsonNode)(format == "url"
                    ? new JsonObject { ["url"] = origin + job.ImageUrl(i) }
                    : new JsonObject { ["b64_json"] = Convert.ToBase64String(File.ReadAllBytes(job.ImagePath(i))) })).ToArray()),
            });
        });

        app.MapPost("/sdapi/v1/txt2img", async context =>
        {
            JsonObject? parameters = null;
            var (job, _) = await Submit(context, queue, body =>
            {
                var parsed = Requests.A1111(body);
                parameters = JsonNode.Parse(body) as JsonObject;
                return parsed;
            });
            if (job is null || !await Wait(context, job)) return;
            var s = job.Settings;
            var info = new JsonObject
            {
                ["prompt"] = s.Prompt, ["negative_prompt"] = s.Negative, ["seed"] = s.Seed,
                ["all_seeds"] = new JsonArray(Enumerable.Range(0, job.Count).Select(i => (JsonNode)(s.Seed + i)).ToArray()),
                ["steps"] = s.Steps, ["cfg_scale"] = s.Cfg, ["width"] = s.Width, ["height"] = s.Height,
                ["sd_model_name"] = generator.Model, ["sd_model_hash"] = generator.ModelHash, ["job"] = job.Id,
            };
            await Json(context, 200, new JsonObject
            {
                ["images"] = new JsonArray(Enumerable.Range(0, job.Count).Select(i => (JsonNode)Convert.ToBase64String(File.ReadAllBytes(job.ImagePath(i)))).ToArray()),
                ["parameters"] = parameters,
                ["info"] = info.ToJsonString(),
            });
        });

        app.MapFallback("{*path}", context => Error(context, 404, "", $"no endpoint {context.Request.Method} {context.Request.Path} (see GET / or the README)"));
    }

    /// <summary>Reads and checks a body, resolves it against the model and queues it; on a bad request the error is
    /// answered and the job is null.</summary>
    static async Task<(Job? Job, int Position)> Submit(HttpContext context, JobQueue queue, Func<byte[], (GenerationRequest, int)> parse)
    {
        try
        {
            var body = await Body(context);
            var (request, count) = parse(body);
            var settings = queue.Generator.Resolve(request);
            if (settings.Seed > long.MaxValue - (count - 1)) throw new BadRequestException("seed", $"seed {settings.Seed} with {count} images runs past the largest seed");
            return queue.Submit(settings, count);
        }
        catch (BadRequestException e) { await Error(context, e.Field == "" && e.Message.StartsWith("the body is larger") ? 413 : 400, e.Field, e.Message); }
        catch (GenerationRequestException e) { await Error(context, 400, e.Field, e.Message); }
        catch (QueueFullException e)
        {
            context.Response.Headers.RetryAfter = "10";
            await Error(context, 429, "", e.Message);
        }
        return (null, 0);
    }

    /// <summary>The body, at most <see cref="MaxBodyBytes"/>.</summary>
    static async Task<byte[]> Body(HttpContext context)
    {
        var tooLarge = new BadRequestException("", $"the body is larger than {MaxBodyBytes} bytes");
        if (context.Request.ContentLength > DrainBytes) throw tooLarge;
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        long total = 0;
        // A body a little too large is read to its end (not kept), so that the client, still sending, gets the 413
        // rather than a reset connection; Kestrel refuses more than DrainBytes.
        for (int n; (n = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0;)
        {
            total += n;
            if (total <= MaxBodyBytes) buffer.Write(chunk, 0, n);
        }
        if (total > MaxBodyBytes) throw tooLarge;
        return buffer.ToArray();
    }

    /// <summary>The most a request body may be before the connection is closed on it.</summary>
    const int DrainBytes = 1 << 20;

    /// <summary>A synchronous endpoint waits for its job; a client that goes away cancels it. False when the answer was
    /// an error (the job failed or was cancelled).</summary>
    static async Task<bool> Wait(HttpContext context, Job job)
    {
        using (context.RequestAborted.Register(() => job.Cancellation.Cancel()))
            await job.Finished;
        if (job.Status == JobStatus.Done) return true;
        if (!context.RequestAborted.IsCancellationRequested)
            await Error(context, job.Status == JobStatus.Cancelled ? 409 : 500, "", job.Status == JobStatus.Cancelled ? $"job {job.Id} was cancelled" : job.Error ?? "failed");
        return false;
    }

    /// <summary>text/event-stream: the job's state and events so far, then the live ones until the final event.</summary>
    static async Task Events(HttpContext context, Job job, CancellationToken stopping)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var (past, live) = job.Listen();
        try
        {
            foreach (var e in past) await Send(context, e, cancel.Token);
            if (live is null) return;
            await foreach (var e in live.ReadAllAsync(cancel.Token)) await Send(context, e, cancel.Token);
        }
        catch (OperationCanceledException) { }
        finally
        {
            if (live is not null) job.StopListening(live);
        }
    }

    static async Task Send(HttpContext context, ServerEvent e, CancellationToken cancel)
    {
        await context.Response.WriteAsync($"event: {e.Name}\ndata: {e.Data}\n\n", cancel);
        await context.Response.Body.FlushAsync(cancel);
    }

    static Task NotFound(HttpContext context, string id) => Error(context, 404, "", $"no job '{id}'");

    static Task Error(HttpContext context, int status, string field, string message)
    {
        var json = new JsonObject { ["error"] = message };
        if (field != "") json["field"] = field;
        return Json(context, status, json);
    }

    static async Task Json(HttpContext context, int status, JsonNode json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(json.ToJsonString(Job.Json));
    }
}
