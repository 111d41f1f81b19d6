using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Pipelines;

namespace T2X.Host.Serve;

/// <summary>One server-sent event: its name and its JSON data.</summary>
public sealed record ServerEvent(string Name, string Data);

/// <summary>The states of a job; the last three are final.</summary>
public static class JobStatus
{
    public const string Queued = "queued", Running = "running", Done = "done", Failed = "failed", Cancelled = "cancelled";
    public static bool IsFinal(string s) => s is Done or Failed or Cancelled;
}

/// <summary>
/// A generation asked for over HTTP: <see cref="Count"/> images of one settings, seeds <c>Seed, Seed + 1, …</c>.
/// Its record (<c>job.json</c>) and its PNGs live in its own folder of the output folder, so a restarted server has
/// every finished job and resumes unfinished ones. Its events (one progress event per sampler step, the newest
/// preview, the final event) are kept, so a client that connects late gets the state first and then the live events.
/// </summary>
public sealed class Job
{
    public string Id { get; }
    public GenerationSettings Settings { get; }
    public int Count { get; }
    public DateTime Created { get; }
    public string Folder { get; }

    readonly object _lock = new();
    string _status = JobStatus.Queued;
    int _step, _image;
    string? _error;
    readonly List<ServerEvent> _progress = [];
    ServerEvent? _preview, _final;
    readonly List<Channel<ServerEvent>> _listeners = [];
    readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Cancels the job (DELETE, or a synchronous client that went away).</summary>
    public CancellationTokenSource Cancellation { get; } = new();

    public Job(string id, GenerationSettings settings, int count, DateTime created, string folder)
    {
        Id = id;
        Settings = settings;
        Count = count;
        Created = created;
        Folder = folder;
    }

    public string Status { get { lock (_lock) return _status; } }
    public string? Error { get { lock (_lock) return _error; } }
    /// <summary>Completes when the job reaches a final state.</summary>
    public Task Finished => _finished.Task;

    /// <summary>The PNG of image <paramref name="index"/> (which may not be written yet).</summary>
    public string ImagePath(int index) => Path.Combine(Folder, $"{index}.png");

    /// <summary>How many of the images are written (they are written in order).</summary>
    public int ImagesDone
    {
        get
        {
            int n = 0;
            while (n < Count && File.Exists(ImagePath(n))) n++;
            return n;
        }
    }

    public string ImageUrl(int index) => $"/v1/jobs/{Id}/images/{index}.png";

    /// <summary>The job as GET /v1/jobs/{id} shows it.</summary>
    public JsonObject ToJson(int? queuePosition = null)
    {
        lock (_lock)
        {
            var json = new JsonObject
            {
                ["id"] = Id,
                ["status"] = _status,
                ["step"] = _step,
                ["steps"] = Settings.Steps,
                ["image"] = _image,
                ["count"] = Count,
                ["seed"] = Settings.Seed,
                ["prompt"] = Settings.Prompt,
                ["negative_prompt"] = Settings.Negative,
                ["cfg"] = Settings.Cfg,
                ["width"] = Settings.Width,
                ["height"] = Settings.Height,
                ["created"] = Created.ToString("O", CultureInfo.InvariantCulture),
                ["images"] = new JsonArray(Enumerable.Range(0, ImagesDone).Select(i => (JsonNode)ImageUrl(i)).ToArray()),
            };
            if (_error is not null) json["error"] = _error;
            if (queuePosition is not null) json["queue_position"] = queuePosition;
            return json;
        }
    }

    /// <summary>What job.json holds: the settings and the state.</summary>
    public string Record()
    {
        var json = ToJson();
        json.Remove("images");
        json.Remove("step");
        json.Remove("image");
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public static Job FromRecord(string path)
    {
        var json = JsonNode.Parse(InputFile.ReadAllText(path, 1 << 20))?.AsObject() ?? throw new InvalidDataException($"{path}: not a JSON object");
        T Get<T>(string key) => json[key] is { } v ? v.GetValue<T>() : throw new InvalidDataException($"{path}: no '{key}'");
        var settings = new GenerationSettings
        {
            Prompt = Get<string>("prompt"),
            Negative = Get<string>("negative_prompt"),
            Seed = Get<long>("seed"),
            Steps = Get<int>("steps"),
            Cfg = Get<double>("cfg"),
            Width = Get<int>("width"),
            Height = Get<int>("height"),
        }.Validated();
        var job = new Job(Get<string>("id"), settings, Get<int>("count"), DateTime.Parse(Get<string>("created"), CultureInfo.InvariantCulture,
            DateTimeStyles.RoundtripKind), Path.GetDirectoryName(path)!);
        string status = Get<string>("status");
        if (JobStatus.IsFinal(status)) job.Finish(status, json["error"]?.GetValue<string>(), persist: false);
        return job;
    }

    /// <summary>Writes job.json (replacing the last one in one step).</summary>
    public void Save() => AtomicFile.Write(Path.Combine(Folder, "job.json"), s => s.Write(System.Text.Encoding.UTF8.GetBytes(Record())), overwrite: true);

    public void Start(int image)
    {
        lock (_lock)
        {
            _status = JobStatus.Running;
            _image = image;
            _step = 0;
        }
        Save();
    }

    public void Progress(int image, int step, int steps, double seconds, byte[]? previewPng)
    {
        var progress = new ServerEvent("progress", new JsonObject
        {
            ["step"] = step, ["steps"] = steps, ["seconds"] = Math.Round(seconds, 4), ["image"] = image, ["count"] = Count,
        }.ToJsonString(Json));
        ServerEvent? preview = previewPng is null ? null
            : new ServerEvent("preview", new JsonObject { ["step"] = step, ["image"] = image, ["png"] = Convert.ToBase64String(previewPng) }.ToJsonString(Json));
        lock (_lock)
        {
            _step = step;
            _image = image;
            _progress.Add(progress);
            Send(progress);
            if (preview is not null)
            {
                _preview = preview;
                Send(preview);
            }
        }
    }

    /// <summary>Ends the job: done, failed (with the error) or cancelled; listeners get the final event.</summary>
    public void Finish(string status, string? error, bool persist = true)
    {
        lock (_lock)
        {
            if (JobStatus.IsFinal(_status)) return;
            _status = status;
            _error = error;
            var data = new JsonObject();
            if (status == JobStatus.Done)
            {
                data["images"] = new JsonArray(Enumerable.Range(0, ImagesDone).Select(i => (JsonNode)ImageUrl(i)).ToArray());
                _step = Settings.Steps;
                _image = Count - 1;
            }
            if (error is not null) data["error"] = error;
            _final = new ServerEvent(status, data.ToJsonString(Json));
            Send(_final);
            foreach (var l in _listeners) l.Writer.TryComplete();
            _listeners.Clear();
        }
        if (persist) Save();
        _finished.TrySetResult();
    }

    /// <summary>Back to the queue (the server is stopping while it runs: a restart runs it again, keeping written images).</summary>
    public void Requeue()
    {
        lock (_lock)
        {
            if (JobStatus.IsFinal(_status)) return;
            _status = JobStatus.Queued;
            _step = 0;
            _progress.Clear();
            _preview = null;
        }
        Save();
    }

    void Send(ServerEvent e)
    {
        foreach (var l in _listeners) l.Writer.TryWrite(e);
    }

    /// <summary>The events so far (the state, every progress event, the newest preview, the final event) and a channel
    /// for the live ones (null when the job is finished).</summary>
    public (List<ServerEvent> Past, ChannelReader<ServerEvent>? Live) Listen()
    {
        lock (_lock)
        {
            var past = new List<ServerEvent> { new("state", ToJson().ToJsonString(Json)) };
            past.AddRange(_progress);
            if (_preview is not null) past.Add(_preview);
            if (_final is not null)
            {
                past.Add(_final);
                return (past, null);
            }
            var channel = Channel.CreateUnbounded<ServerEvent>(new UnboundedChannelOptions { SingleReader = true });
            _listeners.Add(channel);
            return (past, channel.Reader);
        }
    }

    public void StopListening(ChannelReader<ServerEvent> reader)
    {
        lock (_lock) _listeners.RemoveAll(c => c.Reader == reader);
    }

    /// <summary>How the server writes JSON: UTF-8 as is, base64 unescaped.</summary>
    public static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string NewId() => Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant();
    public static bool IsId(string id) => id.Length == 12 && id.All(char.IsAsciiHexDigitLower);
}

/// <summary>Thrown when the queue holds --max-queue jobs already.</summary>
public sealed class QueueFullException(string message) : Exception(message) { }

/// <summary>
/// The jobs of one server: a FIFO queue and one worker per device, which runs them one after another through
/// <see cref="ImageGenerator"/> and writes each PNG into the job's folder (<see cref="AtomicFile"/>, never replacing a file).
/// </summary>
public sealed class JobQueue
{
    readonly ImageGenerator _generator;
    readonly string _root;
    readonly int _maxQueue;
    readonly object _lock = new();
    readonly LinkedList<Job> _queue = new();
    readonly Dictionary<string, Job> _jobs = new();
    readonly SemaphoreSlim _signal = new(0);
    Job? _running;

    public JobQueue(ImageGenerator generator, string root, int maxQueue)
    {
        _generator = generator;
        _root = Path.GetFullPath(root);
        _maxQueue = maxQueue;
        Directory.CreateDirectory(_root);
        Load();
    }

    public ImageGenerator Generator => _generator;
    public string Root => _root;

    /// <summary>Finished jobs of an earlier run come back as they were; unfinished ones are queued again in their order.</summary>
    void Load()
    {
        var found = new List<Job>();
        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            string record = Path.Combine(dir, "job.json");
            if (!Job.IsId(Path.GetFileName(dir)) || !File.Exists(record)) continue;
            try { found.Add(Job.FromRecord(record)); }
            catch (Exception e) when (e is IOException or InvalidDataException or JsonException or InvalidOperationException or ArgumentException or FormatException)
            {
                Console.Error.WriteLine($"t2x serve: skipping {record}: {Terminal.Safe(e.Message)}");
            }
        }
        foreach (var job in found.OrderBy(j => j.Created))
        {
            _jobs[job.Id] = job;
            if (!JobStatus.IsFinal(job.Status))
            {
                _queue.AddLast(job);
                _signal.Release();
            }
        }
    }

    public Job? Find(string id)
    {
        lock (_lock) return Job.IsId(id) && _jobs.TryGetValue(id, out var job) ? job : null;
    }

    public IReadOnlyList<Job> All()
    {
        lock (_lock) return _jobs.Values.OrderBy(j => j.Created).ToList();
    }

    public (int Queued, bool Running) Counts()
    {
        lock (_lock) return (_queue.Count, _running is not null);
    }

    /// <summary>1-based place in the queue (0: running or finished).</summary>
    public int Position(Job job)
    {
        lock (_lock)
        {
            int i = 1;
            for (var n = _queue.First; n is not null; n = n.Next, i++)
                if (n.Value == job) return i;
            return 0;
        }
    }

    /// <summary>Queues a job; <see cref="QueueFullException"/> when --max-queue jobs wait already.</summary>
    public (Job Job, int Position) Submit(GenerationSettings settings, int count)
    {
        Job job;
        lock (_lock)
        {
            if (_queue.Count >= _maxQueue) throw new QueueFullException($"the queue is full ({_maxQueue} jobs waiting): try again later");
            string id;
            do id = Job.NewId(); while (_jobs.ContainsKey(id) || Directory.Exists(Path.Combine(_root, id)));
            string folder = Path.Combine(_root, id);
            Directory.CreateDirectory(folder);
            job = new Job(id, settings, count, DateTime.UtcNow, folder);
            job.Save();
            _jobs[id] = job;
            _queue.AddLast(job);
        }
        _signal.Release();
        return (job, Position(job));
    }

    /// <summary>Cancels a queued job at once, a running one within a step; false when it had finished already.</summary>
    public bool Cancel(Job job)
    {
        lock (_lock)
        {
            if (JobStatus.IsFinal(job.Status)) return false;
            if (_queue.Remove(job))
            {
                job.Finish(JobStatus.Cancelled, null);
                return true;
            }
        }
        job.Cancellation.Cancel();
        return true;
    }

    /// <summary>The worker: runs the queue's jobs one after another until <paramref name="stop"/>; a job running then is
    /// put back into the queue on disk (a restart resumes it).</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (true)
        {
            try { await _signal.WaitAsync(stop); }
            catch (OperationCanceledException) { return; }
            Job? job;
            lock (_lock)
            {
                job = _queue.First?.Value;
                if (job is null) continue;
                _queue.RemoveFirst();
                _running = job;
            }
            try { await RunJob(job, stop); }
            finally
            {
                lock (_lock) _running = null;
            }
            if (stop.IsCancellationRequested) return;
        }
    }

    async Task RunJob(Job job, CancellationToken stop)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(job.Cancellation.Token, stop);
        try
        {
            var plan = _generator.Plan(job.Settings);
            if (!plan.Fits)
                throw new OutOfMemoryException($"this generation needs about {GenerationPlan.FormatBytes(plan.PeakBytes)} of device memory, more than the " +
                                               $"{GenerationPlan.FormatBytes(plan.BudgetBytes)} budget of {_generator.Device.Name}");
            for (int i = 0; i < job.Count; i++)
            {
                if (File.Exists(job.ImagePath(i))) continue;   // written before a restart
                job.Start(i);
                var settings = job.Settings with { Seed = job.Settings.Seed + i };
                int image = i;
                var progress = new Callback(p => job.Progress(image, p.Step, p.Steps, p.Seconds, p.Preview?.ToPng()));
                var result = await _generator.GenerateAsync(settings, progress, previews: true, cancel.Token);
                result.Save(job.ImagePath(i));
            }
            job.Finish(JobStatus.Done, null);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !job.Cancellation.IsCancellationRequested)
        {
            job.Requeue();
            Console.Error.WriteLine($"t2x serve: job {job.Id} stopped with the server; it runs again when the server restarts with this output folder");
        }
        catch (OperationCanceledException)
        {
            job.Finish(JobStatus.Cancelled, null);
        }
        catch (Exception e)
        {
            string error = e switch
            {
                OutOfMemoryException => $"out of memory: {e.Message}",
                VulkanException => $"device error: {e.Message}",
                IOException or InvalidDataException or ArgumentException => e.Message,
                _ => $"internal error ({e.GetType().Name}: {e.Message})",
            };
            Console.Error.WriteLine($"t2x serve: job {job.Id} failed: {Terminal.Safe(error)}");
            job.Finish(JobStatus.Failed, error);
        }
    }

    sealed class Callback(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}
