namespace T2X.Vulkan.Files;

/// <summary>An output that would replace an existing file (or folder) without leave to overwrite it; nothing was changed.</summary>
public sealed class OutputExistsException(string path) : IOException($"{path} exists; it was left unchanged")
{
    public string Path { get; } = path;
}

/// <summary>
/// The one way the engine and t2x write a file that a user sees: images, videos, tensors, checkpoints, model files.
/// The bytes go to a temporary file in the destination folder, named <c>.NAME.RANDOM.t2x-tmp</c>, flushed to disk, and
/// are then published under the final name in one step. Without <c>overwrite</c> the publish itself is exclusive
/// (a hard link, as <see cref="File.Move(string, string, bool)"/> does on Unix), so a file that appeared under that
/// name while the work ran is never replaced. On any failure the temporary files are removed; temporary files of this
/// pattern that nobody has written for <see cref="StaleAfter"/> (left by a killed process) are removed whenever a file
/// is written into the same folder.
/// </summary>
public static class AtomicFile
{
    /// <summary>The ending of every temporary file this class makes.</summary>
    public const string TempSuffix = ".t2x-tmp";

    /// <summary>A temporary file not written for this long belongs to a process that died: it is removed.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromHours(1);

    /// <summary>Writes one file; <paramref name="overwrite"/> false fails with <see cref="OutputExistsException"/> when
    /// the name exists before or appears during the write.</summary>
    public static void Write(string path, Action<Stream> write, bool overwrite = false) => WriteAll([(path, write)], overwrite);

    /// <summary>Writes files that belong together (a video and its frames): every one is complete on disk before the
    /// first is published, and when one cannot be published the others published by this call are taken back.</summary>
    public static void WriteAll(IReadOnlyList<(string Path, Action<Stream> Write)> files, bool overwrite = false)
    {
        var finals = files.Select(f => System.IO.Path.GetFullPath(f.Path)).ToArray();
        foreach (var f in finals) Check(f, overwrite);
        foreach (var folder in finals.Select(f => System.IO.Path.GetDirectoryName(f)!).Distinct()) RemoveStale(folder);
        var temps = new List<string>();
        var published = new List<string>();
        try
        {
            for (int i = 0; i < finals.Length; i++)
            {
                temps.Add(TempName(finals[i]));
                using var stream = new FileStream(temps[i], FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                files[i].Write(stream);
                stream.Flush(flushToDisk: true);
            }
            for (int i = 0; i < finals.Length; i++)
            {
                Publish(temps[i], finals[i], overwrite);
                published.Add(finals[i]);
            }
        }
        catch
        {
            foreach (var t in temps) TryDelete(t);
            if (!overwrite) foreach (var p in published) TryDelete(p);
            throw;
        }
    }

    /// <summary>Checks before the work that <paramref name="path"/> can be written: its folder exists and takes new
    /// files, and the name is free (or <paramref name="overwrite"/> and it is a file). The write checks again.</summary>
    public static void Check(string path, bool overwrite)
    {
        string full = System.IO.Path.GetFullPath(path), folder = System.IO.Path.GetDirectoryName(full)!;
        if (Directory.Exists(full)) throw new IOException($"{path} is a folder, not a file");
        if (!overwrite && Exists(full)) throw new OutputExistsException(path);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"folder {folder} does not exist");
        string probe = TempName(full);
        try { new FileStream(probe, FileMode.CreateNew, FileAccess.Write).Dispose(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write files in folder {folder} ({e.Message})", e);
        }
        TryDelete(probe);
    }

    static void Publish(string temp, string final, bool overwrite)
    {
        if (overwrite)
        {
            File.Move(temp, final, overwrite: true);
            return;
        }
        try { File.Move(temp, final, overwrite: false); }
        catch (IOException) when (Exists(final)) { throw new OutputExistsException(final); }
    }

    /// <summary>Removes the temporary files of <paramref name="path"/> whatever their age: for a caller that alone writes
    /// that name (a shard of t2x batch owns its lines' images), so a process killed while writing leaves nothing behind
    /// once the work is resumed.</summary>
    public static void RemoveTemporaries(string path)
    {
        string full = System.IO.Path.GetFullPath(path), folder = System.IO.Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder)) return;
        try
        {
            foreach (var info in new DirectoryInfo(folder).EnumerateFiles($".{System.IO.Path.GetFileName(full)}.*{TempSuffix}"))
                if (info.LinkTarget is null) TryDelete(info.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    static string TempName(string final) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(final)!, $".{System.IO.Path.GetFileName(final)}.{Guid.NewGuid():N}{TempSuffix}");

    /// <summary>A file, folder or symbolic link (even a dangling one) of this name.</summary>
    static bool Exists(string path) => File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;

    static void RemoveStale(string folder)
    {
        if (!Directory.Exists(folder)) return;
        var cutoff = DateTime.UtcNow - StaleAfter;
        try
        {
            foreach (var info in new DirectoryInfo(folder).EnumerateFiles($".*{TempSuffix}"))
                if (info.LinkTarget is null && info.LastWriteTimeUtc < cutoff) TryDelete(info.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
