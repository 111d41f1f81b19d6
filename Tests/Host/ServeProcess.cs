using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using NUnit.Framework;

namespace T2X.Tests.Host;

/// <summary>A real <c>t2x serve</c> process on a free port (--port 0; the port is read from its first line) with the
/// built-in model, and an HTTP client for it.</summary>
public sealed class ServeProcess : IDisposable
{
    readonly Process _process;
    readonly StringBuilder _stderr = new();
    public string OutputDir { get; }
    public Uri BaseUrl { get; }
    public HttpClient Http { get; }

    public ServeProcess(string outputDir, params string[] extra)
    {
        OutputDir = outputDir;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[T2xProcess.Binary, "serve", "--port", "0", "--output-dir", outputDir, .. extra]) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        string? line;
        while ((line = _process.StandardOutput.ReadLine()) is not null && !line.Contains("listening on http://")) { }
        if (line is null)
        {
            _process.WaitForExit();
            Assert.Fail($"t2x serve did not start (exit {_process.ExitCode}):\n{Stderr}");
        }
        var url = line![(line.IndexOf("http://", StringComparison.Ordinal))..].Split(' ')[0];
        BaseUrl = new Uri(url + "/");
        _ = _process.StandardOutput.ReadToEndAsync();
        Http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromMinutes(5) };
    }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    public void Authorize(string token) => Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

    /// <summary>Stops the server as Ctrl-C or a service manager does (SIGTERM) and returns its exit code.</summary>
    public int Stop()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) kill.WaitForExit();
        if (!_process.WaitForExit(120_000)) Assert.Fail($"t2x serve did not stop within 2 minutes of SIGTERM:\n{Stderr}");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async Task<(int Status, JsonNode? Json)> Send(HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/json") json = JsonNode.Parse(text);
        return ((int)response.StatusCode, json);
    }

    public Task<(int Status, JsonNode? Json)> Post(string path, string body) => Send(HttpMethod.Post, path, body);
    public Task<(int Status, JsonNode? Json)> Get(string path) => Send(HttpMethod.Get, path);

    /// <summary>Queues a job and returns its id (asserting 202).</summary>
    public async Task<string> Submit(string body)
    {
        var (status, json) = await Post("v1/jobs", body);
        Assert.That(status, Is.EqualTo(202), json?.ToJsonString());
        return json!["id"]!.GetValue<string>();
    }

    /// <summary>The job's event stream, read to its end; <paramref name="onEvent"/> sees each event as it comes.</summary>
    public async Task<List<(string Name, JsonNode Data)>> Events(string id, Action<string, JsonNode>? onEvent = null)
    {
        var events = new List<(string, JsonNode)>();
        using var response = await Http.GetAsync($"v1/jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string name = "message";
        var data = new StringBuilder();
        for (string? line; (line = await reader.ReadLineAsync()) is not null;)
        {
            if (line.StartsWith("event: ")) name = line[7..];
            else if (line.StartsWith("data: ")) data.Append(line[6..]);
            else if (line == "" && data.Length > 0)
            {
                var json = JsonNode.Parse(data.ToString())!;
                events.Add((name, json));
                onEvent?.Invoke(name, json);
                name = "message";
                data.Clear();
            }
        }
        return events;
    }

    public async Task<byte[]> Image(string id, int index) => await Http.GetByteArrayAsync($"v1/jobs/{id}/images/{index}.png");

    public void Dispose()
    {
        Http.Dispose();
        End(_process);
    }

    /// <summary>Kills a process this test started (and its children) if it still runs, and waits for it.</summary>
    internal static void End(Process process)
    {
        if (!process.HasExited)
        {
            try { process.Kill(true); } catch (InvalidOperationException) { }
            process.WaitForExit();
        }
        process.Dispose();
    }
}
