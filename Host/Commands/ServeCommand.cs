using T2X.Host.Serve;
using T2X.Vulkan.Pipelines;

namespace T2X.Host.Commands;

/// <summary>t2x serve: the engine as an HTTP service (Host/Serve): a job API with live progress and previews, the
/// OpenAI- and AUTOMATIC1111-compatible endpoints, and a web page.</summary>
public static class ServeCommand
{
    public const string Usage =
        "t2x serve [--host 127.0.0.1] [--port 7860] [--model DIR] [--device N|name] [--output-dir DIR] [--token TOKEN] [--max-queue N]\n" +
        "          [--memory-budget GIB]\n" +
        "  --host         address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every interface)\n" +
        "  --port         TCP port (default 7860; 0 picks a free one, printed at start)\n" +
        "  --output-dir   where every job's PNGs and record are kept (default ./t2x-serve); a restart lists the finished jobs\n" +
        "                 and runs the unfinished ones again\n" +
        "  --token        every endpoint but /v1/health then needs 'Authorization: Bearer TOKEN' (or T2X_TOKEN)\n" +
        "  --max-queue    jobs that may wait (default 32); more get 429\n" +
        "endpoints: POST /v1/jobs, GET /v1/jobs[/ID[/events|/images/I.png]], DELETE /v1/jobs/ID, POST /v1/images/generations,\n" +
        "           POST /sdapi/v1/txt2img, GET /v1/health, GET /v1/models, GET / (the page)";

    public static int Run(Args a)
    {
        if (a.Help(Usage)) return 0;
        var options = new ServeOptions
        {
            Host = a.Option("host") ?? "127.0.0.1",
            Port = a.Int("port", 7860, 0, 65535),
            Model = a.Option("model"),
            Device = a.Option("device"),
            OutputDir = a.Option("output-dir") ?? "t2x-serve",
            Token = a.Option("token") ?? (Environment.GetEnvironmentVariable("T2X_TOKEN") is { Length: > 0 } t ? t : null),
            MaxQueue = a.Int("max-queue", 32, 1, 100_000),
            MemoryBudget = a.Gib("memory-budget"),
        };
        a.Done();
        if (options.Token is { } token && (token.Length == 0 || token.Any(char.IsControl)))
            throw new UsageException("--token must be a non-empty string without control characters");
        if (options.Model is not null) ModelFolder.Open(options.Model);   // a bad folder fails before anything starts
        return Server.Run(options);
    }
}
