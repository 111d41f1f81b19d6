using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Presentation;

namespace T2X.Host.Viewer;

/// <summary>
/// The viewer's generating thread: runs the frame source for the newest request and publishes its frames to the
/// mailbox. A new request cancels the one running (the source checks between sampler steps) and replaces any that
/// has not started; a failure is kept for the window's thread, which is woken to report it.
/// </summary>
internal sealed class GenerationWorker : IDisposable
{
    readonly IFrameSource _source;
    readonly FrameMailbox _mailbox;
    readonly Action _wake;
    readonly Thread _thread;

    readonly object _lock = new();
    (GenerationSettings Settings, int Generation, CancellationToken Cancel)? _request;
    CancellationTokenSource _cancel = new();
    bool _stopping;
    volatile Exception? _failure;

    /// <summary>The number of the newest request (1 for the first); a frame with another number is an older one's.</summary>
    public int Generation { get; private set; }

    /// <param name="wake">wakes the window's thread (a failure is waiting)</param>
    public GenerationWorker(IFrameSource source, FrameMailbox mailbox, Action wake)
    {
        (_source, _mailbox, _wake) = (source, mailbox, wake);
        _thread = new Thread(Loop) { Name = "t2x sampler", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Asks for a generation with these settings, cancelling the one running.</summary>
    public void Start(GenerationSettings settings)
    {
        lock (_lock)
        {
            _cancel.Cancel();
            _cancel = new CancellationTokenSource();
            _request = (settings, ++Generation, _cancel.Token);
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>The failure of a generation since the last call, if any.</summary>
    public Exception? TakeFailure() => Interlocked.Exchange(ref _failure, null);

    void Loop()
    {
        while (true)
        {
            (GenerationSettings Settings, int Generation, CancellationToken Cancel) job;
            lock (_lock)
            {
                while (_request is null && !_stopping) Monitor.Wait(_lock);
                if (_stopping) return;
                job = _request!.Value;
                _request = null;
            }
            try
            {
                _source.Generate(job.Settings, f => _mailbox.Publish(f, job.Generation, job.Settings, job.Cancel), job.Cancel);
            }
            catch (OperationCanceledException) { }
            catch (Exception e)
            {
                _failure = e;
                _wake();
            }
        }
    }

    /// <summary>Cancels the running generation and waits for the thread to end (the mailbox stays paused).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _stopping = true;
            _cancel.Cancel();
            Monitor.PulseAll(_lock);
        }
        _mailbox.Paused = true;   // a publish waiting for the window to take its frame returns
        // The source observes the cancellation between steps; a step of a big model may take a while.
        if (!_thread.Join(TimeSpan.FromSeconds(1)))
        {
            Console.WriteLine("waiting for the sampler to finish its current step");
            _thread.Join();
        }
    }
}
