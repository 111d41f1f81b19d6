using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using NUnit.Framework;

namespace T2X.Tests.Host;

/// <summary>
/// The page of <c>t2x serve</c> in headless Chromium (Debian's <c>chromium</c>, driven over the DevTools protocol):
/// a prompt typed and Generate clicked runs a job whose every step updates the preview and the progress bar, and the
/// finished image appears in the gallery; a second job is cancelled with the page's Cancel button. The screenshot
/// taken while the second job runs (the preview forming, the first image in the gallery) is written to the test's
/// output folder, and to the path in T2X_SERVE_SCREENSHOT when set (README's docs/serve.png is made so).
/// </summary>
[NonParallelizable]
public class ServePageTests
{
    static string? Chromium() =>
        new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    [Test]
    public async Task PageShowsPreviewsProgressAndTheFinishedImage()
    {
        string chromium = Chromium() ?? "";
        if (chromium == "") Assert.Fail("chromium is not installed (Debian package chromium; bash Tools/install-deps.sh installs it)");
        string dir = Directory.CreateTempSubdirectory("t2x-serve-page-").FullName;
        try
        {
            using var server = new ServeProcess(Path.Combine(dir, "out"));
            using var browser = await Browser.Start(chromium, Path.Combine(dir, "profile"));
            await browser.Call("Page.enable");
            await browser.Call("Emulation.setDeviceMetricsOverride", new JsonObject { ["width"] = 1100, ["height"] = 720, ["deviceScaleFactor"] = 1, ["mobile"] = false });
            await browser.Call("Page.navigate", new JsonObject { ["url"] = server.BaseUrl.ToString() });
            await browser.WaitFor("document.getElementById('model')?.textContent.includes('t2x-builtin-shapes')");   // the page loaded and asked /v1/models

            // The first job: 6 steps, seed 1; one preview per step, then its image in the gallery.
            await browser.Generate("a green circle on the left and a cyan square on the right on a red background", steps: 6, seed: 1);
            await browser.WaitFor("document.getElementById('status').textContent.startsWith('done')");
            await browser.WaitFor("[...document.querySelectorAll('#gallery img.result')].some(i => i.complete && i.naturalWidth === 64)");
            Assert.That(await browser.Eval("document.getElementById('preview').dataset.count"), Is.EqualTo("6"), "one preview per step");
            Assert.That(await browser.Eval("document.getElementById('progress').value + '/' + document.getElementById('progress').max"), Is.EqualTo("6/6"));
            Assert.That(await browser.Eval("document.querySelector('#gallery figcaption').textContent"), Does.Contain("seed 1 · 6 steps"));

            // The second job: a long one, shot while it runs, then cancelled from the page.
            await browser.Generate("a yellow triangle in the top left corner and a blue circle in the bottom right corner on a white background", steps: 200, seed: 4);
            await browser.WaitFor("Number(document.getElementById('preview').dataset.count) >= 6 + 12");
            var shot = await browser.Call("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
            byte[] png = Convert.FromBase64String(shot["data"]!.GetValue<string>());
            Assert.That(ServeTests.PngSize(png), Is.EqualTo((1100, 720)));
            string path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "serve-page.png");
            File.WriteAllBytes(path, png);
            TestContext.AddTestAttachment(path, "the page while a job runs");
            if (Environment.GetEnvironmentVariable("T2X_SERVE_SCREENSHOT") is { Length: > 0 } docs) File.WriteAllBytes(docs, png);

            await browser.Eval("document.getElementById('cancel').click()");
            await browser.WaitFor("document.getElementById('status').textContent === 'cancelled'");
            var (_, jobs) = await server.Get("v1/jobs");
            Assert.That(jobs!["jobs"]!.AsArray().Select(j => j!["status"]!.GetValue<string>()), Is.EqualTo(new[] { "done", "cancelled" }));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Headless Chromium with one page, driven over the DevTools protocol's WebSocket.</summary>
    sealed class Browser : IDisposable
    {
        readonly Process _process;
        readonly ClientWebSocket _socket = new();
        int _next;

        Browser(Process process) => _process = process;

        public static async Task<Browser> Start(string chromium, string profile)
        {
            var psi = new ProcessStartInfo(chromium) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                                      "--remote-debugging-port=0", "--remote-allow-origins=*", $"--user-data-dir={profile}", "--window-size=1100,720", "about:blank" })
                psi.ArgumentList.Add(a);
            var browser = new Browser(Process.Start(psi)!);
            _ = browser._process.StandardOutput.ReadToEndAsync();
            string? line;
            var seen = new StringBuilder();
            while ((line = await browser._process.StandardError.ReadLineAsync()) is not null && !line.StartsWith("DevTools listening on ")) seen.AppendLine(line);
            if (line is null) Assert.Fail($"chromium did not start its DevTools endpoint:\n{seen}");
            _ = browser._process.StandardError.ReadToEndAsync();
            var port = new Uri(line!["DevTools listening on ".Length..].Trim()).Port;
            using var http = new HttpClient();
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"))!.AsArray();
            var page = targets.First(t => t!["type"]!.GetValue<string>() == "page")!;
            await browser._socket.ConnectAsync(new Uri(page["webSocketDebuggerUrl"]!.GetValue<string>()), CancellationToken.None);
            return browser;
        }

        public async Task<JsonNode> Call(string method, JsonObject? parameters = null)
        {
            int id = ++_next;
            var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
            await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
            var buffer = new byte[1 << 20];
            while (true)
            {
                var text = new MemoryStream();
                WebSocketReceiveResult r;
                do
                {
                    r = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                    text.Write(buffer, 0, r.Count);
                } while (!r.EndOfMessage);
                if (r.MessageType == WebSocketMessageType.Close) Assert.Fail("chromium closed the DevTools connection");
                var reply = JsonNode.Parse(text.ToArray())!;
                if (reply["id"]?.GetValue<int>() != id) continue;   // an event, or an older reply
                if (reply["error"] is { } error) Assert.Fail($"{method}: {error.ToJsonString()}");
                return reply["result"]!;
            }
        }

        /// <summary>Evaluates JavaScript in the page; its value as a string ("" for undefined).</summary>
        public async Task<string> Eval(string script)
        {
            var result = await Call("Runtime.evaluate", new JsonObject { ["expression"] = script, ["returnByValue"] = true });
            if (result["exceptionDetails"] is { } e) Assert.Fail($"{script}: {e.ToJsonString()}");
            return result["result"]?["value"]?.ToString() ?? "";
        }

        /// <summary>Waits until a JavaScript condition holds (polled; a condition that never holds fails after 5 minutes,
        /// a guard against hanging, not a measure of speed).</summary>
        public async Task WaitFor(string condition)
        {
            var clock = Stopwatch.StartNew();
            while (await Eval($"!!({condition})") != "true")
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(5))
                    Assert.Fail($"the page never came to: {condition}\nstatus: {await Eval("document.getElementById('status').textContent")}");
                await Task.Delay(50);
            }
        }

        /// <summary>Fills in the page's form as a user would and clicks Generate.</summary>
        public Task Generate(string prompt, int steps, long seed) => Eval($$"""
            document.getElementById('prompt').value = {{System.Text.Json.JsonSerializer.Serialize(prompt)}};
            document.getElementById('steps').value = '{{steps}}';
            document.getElementById('seed').value = '{{seed}}';
            document.getElementById('generate').click();
            """);

        public void Dispose()
        {
            _socket.Dispose();
            ServeProcess.End(_process);
        }
    }
}
