using System.Collections.Concurrent;
using System.Diagnostics;
using T2X.Vulkan.Files;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Pipelines;

namespace T2X.Vulkan.Batch;

/// <summary>How far a batch run is: images made so far of those it set out to make, their rate and the time left.</summary>
public sealed record BatchProgress(int Done, int Total, double ImagesPerSecond, TimeSpan? Left);

/// <summary>What a batch run tells its front end (t2x batch prints it).</summary>
public interface IBatchReport
{
    /// <summary>A line's outcome, as appended to the manifest; <paramref name="path"/> is the image for an ok line,
    /// <paramref name="earlier"/> says the image was already made by an earlier run.</summary>
    void Recorded(ManifestRecord record, string? path, bool earlier);
    void Progress(BatchProgress progress);
}

/// <summary>
/// Makes the images of a prompt list (or of one shard of it) into a folder with one worker per device, each with its own
/// loaded model (<see cref="TextToImage"/>), taking batches from one shared queue.
/// <list type="bullet">
/// <item>Every line's outcome is appended to the shard's manifest (<see cref="Shard.ManifestName"/>) as it finishes.</item>
/// <item>Resume: an image already in the folder whose PNG metadata is this request's (prompt, negative prompt, seed, steps,
/// cfg, size, model and its hash) is kept; a cut-short or unreadable one is made again; one made with other settings is
/// left alone and reported, unless <see cref="BatchOptions.Force"/>. Temporary files a killed run left for the images
/// still to make are removed (each shard alone writes its lines' names).</item>
/// <item>Requests that share size and steps go through the model together, up to the batch size (given, or the
/// largest that fits the memory plan, at most <see cref="BatchRun.AutoBatchLimit"/>); every image is byte-identical
/// to the same request generated alone, so neither the batch size nor the number of devices changes any file.</item>
/// <item>A batch that fails is retried request by request, so one failure costs only its own line.</item>
/// </list>
/// </summary>
public static class BatchRun
{
    /// <summary>The batch size chosen from the memory plan is at most this on GPUs unless told otherwise.</summary>
    public const int DefaultBatchLimit = 8;

    /// <summary>The most requests --batch auto puts in one pass on a device: <see cref="DefaultBatchLimit"/> on GPUs; one on
    /// CPU devices (lavapipe), whose kernels are compute-bound already at one request, so that larger batches only lose
    /// cache locality (t2x bench --only batch: 0.81–0.85× the images per second at batch 8 with the built-in model).</summary>
    public static int AutoBatchLimit(DeviceInfo info) => info.IsCpu ? 1 : DefaultBatchLimit;

    public sealed record Summary(int Images, int AlreadyMade, int BadLines, int Failed, double Seconds);

    sealed record Job(PromptLine Line, bool Overwrite)
    {
        public GenerationSettings Request => Line.Request!;
    }

    internal static Summary Run(IReadOnlyList<PromptLine> lines, IReadOnlyList<TextToImage> workers, BatchOptions options, IBatchReport report,
        CancellationToken cancel = default)
    {
        if (workers.Count == 0) throw new ArgumentException("a batch run needs at least one worker (device)");
        if (options.BatchSize is < 1 or > GenerationPlan.MaxBatch) throw new ArgumentException($"batch size must be from 1 to {GenerationPlan.MaxBatch}, got {options.BatchSize}");
        string dir = options.OutputDir;
        Directory.CreateDirectory(dir);
        var manifest = new BatchManifest(Path.Combine(dir, options.Shard.ManifestName));
        var earlier = BatchManifest.Latest(BatchManifest.Read(manifest.Path, out _));
        string? shard = options.Shard.IsWhole ? null : options.Shard.ToString();
        var sync = new object();
        void Record(ManifestRecord r, string? path, bool fromEarlier)
        {
            lock (sync)
            {
                manifest.Append(r);
                report.Recorded(r, path, fromEarlier);
            }
        }

        // 1. What is there already, and what is to be made.
        var first = workers[0];
        int bad = 0, made = 0;
        var pending = new List<Job>();
        foreach (var line in lines)
        {
            if (line.Request is null)
            {
                bad++;
                // A bad line is reported on every run, but recorded once while its error stays the same.
                var r = new ManifestRecord(line.Line, ManifestRecord.Failed, DateTimeOffset.UtcNow, Shard: shard, Error: line.Error);
                if (earlier.TryGetValue(line.Line, out var e) && e is { IsOk: false } && e.Error == line.Error) report.Recorded(r, null, earlier: true);
                else Record(r, null, false);
                continue;
            }
            string path = Path.Combine(dir, line.FileName!);
            var (state, why) = ImageState(path, first.Metadata(line.Request));
            switch (state)
            {
                case State.Made:
                    made++;
                    var ok = new ManifestRecord(line.Line, ManifestRecord.Ok, DateTimeOffset.UtcNow, line.FileName, line.Request.Seed, Shard: shard);
                    if (earlier.TryGetValue(line.Line, out var was) && was.IsOk && was.File == line.FileName) report.Recorded(was, path, earlier: true);
                    else Record(ok, path, true);
                    break;
                case State.Different when !options.Force:
                    bad++;
                    Record(new ManifestRecord(line.Line, ManifestRecord.Failed, DateTimeOffset.UtcNow, line.FileName, line.Request.Seed, Shard: shard,
                        Error: $"{line.FileName} exists and {why}; remove it or pass --force to make it again"), null, false);
                    break;
                default:
                    AtomicFile.RemoveTemporaries(path);   // what a killed run of this shard was writing
                    pending.Add(new Job(line, Overwrite: state != State.Missing));
                    break;
            }
        }

        // 2. Batches of requests that can share a pass, in line order within each kind; sized so every worker gets work.
        var queue = new ConcurrentQueue<List<Job>>();
        foreach (var group in pending.GroupBy(j => (j.Request.Width, j.Request.Height, j.Request.Frames, j.Request.Steps)))
        {
            var jobs = group.ToList();
            int size = options.BatchSize ?? first.ChooseBatch(jobs[0].Request, options.BatchLimit ?? AutoBatchLimit(first.Gpu.Info));
            size = Math.Max(1, Math.Min(size, (jobs.Count + workers.Count - 1) / workers.Count));
            for (int i = 0; i < jobs.Count; i += size) queue.Enqueue(jobs.GetRange(i, Math.Min(size, jobs.Count - i)));
        }

        // 3. One thread per device.
        int done = 0, failed = 0;
        var clock = Stopwatch.StartNew();
        report.Progress(new BatchProgress(0, pending.Count, 0, null));
        void Finished()
        {
            double rate = done / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
            report.Progress(new BatchProgress(done, pending.Count, rate, rate > 0 ? TimeSpan.FromSeconds((pending.Count - done) / rate) : null));
        }
        void Generate(TextToImage p, int worker, List<Job> batch)
        {
            var started = Stopwatch.StartNew();
            IReadOnlyList<IReadOnlyList<byte[]>> images;
            try { images = p.GenerateBatch(batch.Select(j => j.Request).ToArray(), null, cancel).Images; }
            catch (Exception e) when (e is not OperationCanceledException && batch.Count > 1)
            {
                foreach (var j in batch) Generate(p, worker, [j]);   // one bad request (or too little memory for many) costs only itself
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Fail(batch[0], e, p, worker);
                return;
            }
            double each = started.Elapsed.TotalSeconds / batch.Count;
            for (int i = 0; i < batch.Count; i++)
            {
                var job = batch[i];
                var s = job.Request;
                string path = Path.Combine(dir, job.Line.FileName!);
                try { p.Metadata(s).Save(path, images[i][0], s.Width, s.Height, overwrite: job.Overwrite); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Fail(job, e, p, worker);
                    continue;
                }
                Record(new ManifestRecord(job.Line.Line, ManifestRecord.Ok, DateTimeOffset.UtcNow, job.Line.FileName, s.Seed, each,
                    DeviceName(p.Gpu), worker, shard), path, false);
                lock (sync) { done++; Finished(); }
            }
        }
        void Fail(Job job, Exception e, TextToImage p, int worker)
        {
            string message = e is OutputExistsException x ? $"{x.Path} appeared while the image was made (another process?); it was left alone" : e.Message;
            Record(new ManifestRecord(job.Line.Line, ManifestRecord.Failed, DateTimeOffset.UtcNow, job.Line.FileName, job.Request.Seed,
                Device: DeviceName(p.Gpu), Worker: worker, Shard: shard, Error: message), null, false);
            lock (sync) failed++;
        }

        Exception? fatal = null;
        var threads = workers.Select((p, w) => new Thread(() =>
        {
            try
            {
                while (!cancel.IsCancellationRequested && queue.TryDequeue(out var batch)) Generate(p, w, batch);
            }
            catch (OperationCanceledException) { }
            catch (Exception e) { lock (sync) fatal ??= e; }
        }) { Name = $"t2x worker {w}", IsBackground = true }).ToList();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        if (fatal is not null) throw fatal;
        cancel.ThrowIfCancellationRequested();
        return new Summary(done, made, bad, failed, clock.Elapsed.TotalSeconds);
    }

    static string DeviceName(Gpu gpu) => $"[{gpu.Info.Index}] {gpu.Info.Name}";

    enum State { Missing, Made, Partial, Different }

    /// <summary>Whether the image of a request is already in the folder: made (its metadata is the request's), partial
    /// (not a whole PNG: cut short, empty), different (a whole PNG made otherwise, or not by t2x), or missing.</summary>
    static (State, string? why) ImageState(string path, PngMetadata want)
    {
        if (Directory.Exists(path)) return (State.Different, "is a folder");
        if (!File.Exists(path)) return (State.Missing, null);
        Dictionary<string, string>? text;
        try { text = PngMetadata.ReadText(path); }
        catch (InvalidDataException) { return (State.Partial, null); }   // cut short: ends before IEND
        if (text is null) return (State.Partial, null);                  // not even a PNG signature
        PngMetadata got;
        try { got = PngMetadata.FromText(text, path); }
        catch (InvalidDataException) { return (State.Different, "holds no t2x metadata"); }
        var differences = new List<string>();
        void Compare<T>(string name, T have, T wanted) { if (!EqualityComparer<T>.Default.Equals(have, wanted)) differences.Add($"{name} {have}, not {wanted}"); }
        Compare("prompt", got.Settings.Prompt, want.Settings.Prompt);
        Compare("negative prompt", got.Settings.Negative, want.Settings.Negative);
        Compare("seed", got.Settings.Seed, want.Settings.Seed);
        Compare("steps", got.Settings.Steps, want.Settings.Steps);
        Compare("cfg", got.Settings.Cfg, want.Settings.Cfg);
        Compare("size", $"{got.Settings.Width}x{got.Settings.Height}", $"{want.Settings.Width}x{want.Settings.Height}");
        Compare("frames", got.Settings.Frames, want.Settings.Frames);
        Compare("model", got.Model, want.Model);
        Compare("model hash", got.ModelHash, want.ModelHash);
        return differences.Count == 0 ? (State.Made, null) : (State.Different, "was made with " + string.Join(", ", differences));
    }
}

/// <summary>Where and how a batch run writes: the output folder, the shard, the batch size (null: from the memory plan,
/// at most <see cref="BatchLimit"/>, which by default depends on the device: <see cref="BatchRun.AutoBatchLimit"/>) and
/// whether images made with other settings are made again.</summary>
public sealed record BatchOptions(string OutputDir)
{
    public Shard Shard { get; init; } = Shard.All;
    public int? BatchSize { get; init; }
    public int? BatchLimit { get; init; }
    public bool Force { get; init; }
}
