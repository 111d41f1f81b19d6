using System.Runtime.InteropServices;
using System.Text;
using Silk.NET.Vulkan;
using T2X.Vulkan;
using T2X.Vulkan.Files;
using T2X.Vulkan.Imaging;
using T2X.Vulkan.Pipelines;
using T2X.Vulkan.Presentation;

namespace T2X.Host.Viewer;

/// <summary>How the viewer is started (from <c>t2x view</c>'s command line).</summary>
public sealed record ViewerOptions
{
    public string? Device { get; init; }
    /// <summary>Window size; null: the image fitted into 1024 px, enlarged to at least 512 px on its short side.</summary>
    public (int Width, int Height)? Window { get; init; }
    /// <summary>Write what was presented with the first final image to this PNG.</summary>
    public string? Screenshot { get; init; }
    /// <summary>Replace an existing screenshot file (the first write); later finals always replace this run's own.</summary>
    public bool Force { get; init; }
    public bool ExitAfterFinal { get; init; }
    /// <summary>Where S saves PNGs.</summary>
    public string OutputDirectory { get; init; } = ".";
    /// <summary>Present through an intermediate image and a blit even where compute can write the swapchain.</summary>
    public bool PreferBlit { get; init; }
    /// <summary>Development/test aid: resize the window from code after the first preview was shown.</summary>
    public (int Width, int Height)? ResizeAfterFirstPreview { get; init; }
    /// <summary>Test aid: input played through the real handlers whenever a final image has been shown, until one
    /// starts a new generation: "key:NAME" (s, r, q, tab, enter, esc, backspace, ctrl+u ...), "type:TEXT", "drop:FILE".</summary>
    public IReadOnlyList<string> Script { get; init; } = [];
}

/// <summary>
/// The live window: shows every sampler step of a generation as it forms, with a prompt field in the title.
/// The window thread polls events and presents; a <see cref="GenerationWorker"/> runs the frame source on its own
/// thread; frames pass through a <see cref="FrameMailbox"/>. Keys: Tab edits the prompt (<see cref="PromptEditor"/>:
/// Enter generates, Esc cancels the edit), Enter regenerates, R new seed, S saves the PNG, Esc/Q quit; dropping a t2x
/// PNG reproduces it.
/// </summary>
internal sealed unsafe class ViewerApp : IViewerInput, IDisposable
{
    static ViewerApp? _current;   // GLFW callbacks are static functions; there is one window

    readonly ViewerOptions _options;
    readonly IntPtr _window;
    readonly Gpu _gpu;
    readonly Presenter _presenter;
    readonly FrameMailbox _mailbox;
    readonly IFrameSource _source;
    readonly GenerationWorker _worker;
    readonly System.Diagnostics.Stopwatch _presentTime = new();
    double _longestPresent;

    GenerationSettings _settings;
    readonly PromptEditor _prompt = new();
    string _status = "";
    bool _minimized, _redraw, _drawPending, _finalShown, _resizeDone, _screenshotWritten;
    int _previews, _finals, _redraws;
    readonly ScriptedInput _script;
    string _title = "";
    IReadOnlyList<string> _validation = [];

    ViewerApp(ViewerOptions options, Func<Gpu, (IFrameSource Source, GenerationSettings Settings)> open)
    {
        _options = options;
        _script = new ScriptedInput(options.Script);
        if (Glfw.VulkanSupported() == 0)
            throw new NotSupportedException("GLFW found no Vulkan loader: install the Debian package libvulkan1");
        var extensions = Glfw.RequiredInstanceExtensions();
        try
        {
            _gpu = new Gpu(new GpuOptions { Device = options.Device, InstanceExtensions = extensions, DeviceExtensions = ["VK_KHR_swapchain"] });
        }
        catch (VulkanException e) when (e.Message.Contains("ExtensionNotPresent"))
        {
            throw new VulkanException($"{e.Message}: this Vulkan driver cannot present to windows ({string.Join(", ", extensions)}, VK_KHR_swapchain); write PNG files with `t2x generate` instead");
        }
        try
        {
            (_source, _settings) = open(_gpu);
            _settings.Validated();
            var (windowWidth, windowHeight) = options.Window ?? DefaultWindow(_settings.Width, _settings.Height);
            Glfw.WindowHint(Glfw.ClientApi, Glfw.NoApi);
            Glfw.WindowHint(Glfw.Resizable, 1);
            var title = Encoding.UTF8.GetBytes("t2x view\0");
            fixed (byte* t = title) _window = Glfw.CreateWindow(windowWidth, windowHeight, t, IntPtr.Zero, IntPtr.Zero);
            if (_window == IntPtr.Zero) throw new NotSupportedException($"could not open a window: {Glfw.LastError()}");
            ulong surface;
            int r = Glfw.CreateWindowSurface(_gpu.Instance.Handle, _window, null, &surface);
            if (r != 0) throw new VulkanException($"glfwCreateWindowSurface failed: {(Result)r} ({Glfw.LastError()})");
            _presenter = new Presenter(_gpu, new SurfaceKHR(surface), options.PreferBlit);
            _mailbox = new FrameMailbox(_gpu, Glfw.PostEmptyEvent, _presenter.WaitUntilDone);
        }
        catch
        {
            _presenter?.Dispose();
            (_source as IDisposable)?.Dispose();
            if (_window != IntPtr.Zero) Glfw.DestroyWindow(_window);
            _gpu.Dispose();
            throw;
        }
        _current = this;
        Glfw.SetKeyCallback(_window, &OnKey);
        Glfw.SetCharCallback(_window, &OnChar);
        Glfw.SetFramebufferSizeCallback(_window, &OnFramebufferSize);
        Glfw.SetWindowIconifyCallback(_window, &OnIconify);
        Glfw.SetDropCallback(_window, &OnDrop);
        Glfw.SetWindowRefreshCallback(_window, &OnRefresh);
        _worker = new GenerationWorker(_source, _mailbox, Glfw.PostEmptyEvent);
    }

    /// <summary>Opens the window, runs until it is closed (or the final image was shown with --exit-after-final).
    /// Returns the process exit code. Errors about the display come before anything is opened.</summary>
    /// <param name="open">makes the frame source on the viewer's device and says what to generate first</param>
    public static int Run(ViewerOptions options, Func<Gpu, (IFrameSource Source, GenerationSettings Settings)> open)
    {
        if (OperatingSystem.IsLinux() && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DISPLAY"))
                                      && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WAYLAND_DISPLAY")))
        {
            Console.Error.WriteLine("t2x view: no display: neither DISPLAY nor WAYLAND_DISPLAY is set. " +
                                    "Use `t2x generate` to write PNG files without a window (or run the viewer under xvfb-run).");
            return 1;
        }
        Glfw.UsePlatformLibraryName();
        try
        {
            if (Glfw.Init() == 0)
            {
                Console.Error.WriteLine($"t2x view: cannot open the display '{Environment.GetEnvironmentVariable("DISPLAY") ?? Environment.GetEnvironmentVariable("WAYLAND_DISPLAY")}': {Glfw.LastError()}. " +
                                        "Use `t2x generate` to write PNG files without a window.");
                return 1;
            }
        }
        catch (DllNotFoundException)
        {
            Console.Error.WriteLine("t2x view: the GLFW 3 library (libglfw.so.3) was not found: install the Debian package libglfw3 (or use `t2x generate`)");
            return 1;
        }
        try
        {
            var app = new ViewerApp(options, open);
            int code;
            try { code = app.Loop(); }
            finally { app.Dispose(); }
            if (app._validation.Count == 0) return code;
            Console.Error.WriteLine($"validation: {app._validation.Count} messages");
            foreach (var m in app._validation) Console.Error.WriteLine("  " + m);
            return 3;
        }
        finally { Glfw.Terminate(); }
    }

    static (int, int) DefaultWindow(int width, int height)
    {
        double fit = Math.Min(1024.0 / Math.Max(width, height), Math.Max(1, 512.0 / Math.Min(width, height)));
        return (Math.Max(1, (int)Math.Round(width * fit)), Math.Max(1, (int)Math.Round(height * fit)));
    }

    int Loop()
    {
        Console.WriteLine($"viewer: model {Terminal.Safe(_source.Model)} on {_gpu.Info.Name}; {_presenter.Describe()}");
        Console.WriteLine($"seed {_settings.Seed}: \"{Terminal.Safe(_settings.Prompt)}\" {_settings.Width}x{_settings.Height}, {_settings.Steps} steps, cfg {_settings.Cfg}");
        Console.WriteLine("keys: Tab edit prompt, Enter regenerate, R new seed, S save PNG, Esc/Q quit; drop a t2x PNG to reproduce it");
        Generate(_settings);
        while (Glfw.WindowShouldClose(_window) == 0)
        {
            // While a frame waits for the device (queued behind a sampler step), look again soon.
            if (_drawPending) Glfw.WaitEventsTimeout(0.02);
            else Glfw.WaitEvents();
            if (_worker.TakeFailure() is { } failure)
            {
                // Headless runs end as every command does (Host/Errors: one line, the exit code of the failure).
                if (_options.ExitAfterFinal) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
                Console.Error.WriteLine($"t2x view: generation failed: {Terminal.Safe(failure.Message)}");
                _status = "generation failed: " + failure.Message;
            }
            Draw();
            PlayScript();
            UpdateTitle();
            if (_options.ExitAfterFinal && _finalShown && _script.IsDone) break;
        }
        Console.WriteLine($"presented {_previews + _finals} frames: {_previews} previews + {(_finals == 1 ? "final" : $"{_finals} finals")}" +
                          $" ({_mailbox.Dropped} dropped, {_redraws} redraws; {_presentTime.Elapsed.TotalMilliseconds / Math.Max(1, _previews + _finals + _redraws):0.0} ms per present, longest {_longestPresent:0.0} ms)");
        return 0;
    }

    void Generate(GenerationSettings settings)
    {
        _settings = settings;
        _finalShown = false;
        _status = "";
        _worker.Start(settings);
    }

    /// <summary>Presents the newest frame when there is one not shown yet, or again after a resize or restore.</summary>
    void Draw()
    {
        _drawPending = false;
        if (_minimized) return;
        bool busy = false;
        _mailbox.ShowNewest((image, info, fresh) =>
        {
            int w, h;
            Glfw.GetFramebufferSize(_window, &w, &h);
            bool wantShot = _options.Screenshot is not null && info.IsFinal && fresh;
            long started = _presentTime.ElapsedTicks;
            _presentTime.Start();
            var result = _presenter.Show(image, w, h, wantShot, out var shot);
            _presentTime.Stop();
            _longestPresent = Math.Max(_longestPresent, (_presentTime.ElapsedTicks - started) * 1000.0 / System.Diagnostics.Stopwatch.Frequency);
            busy = result == Presenter.ShowResult.Busy;
            if (result != Presenter.ShowResult.Shown) return false;
            if (shot is not null)
            {
                PngMetadata.SavePng(_options.Screenshot!, shot.Rgb, shot.Width, shot.Height, null, overwrite: _options.Force || _screenshotWritten);
                _screenshotWritten = true;
                Console.WriteLine($"screenshot: {_options.Screenshot} ({shot.Width}x{shot.Height})");
            }
            if (!fresh) _redraws++;
            else if (info.IsFinal) { _finals++; _finalShown |= info.Generation == _worker.Generation; }
            else _previews++;
            if (fresh && !info.IsFinal && _options.ResizeAfterFirstPreview is { } size && !_resizeDone)
            {
                _resizeDone = true;
                Glfw.SetWindowSize(_window, size.Width, size.Height);
            }
            return true;
        }, _redraw);
        _drawPending = busy;
        if (!busy) _redraw = false;
    }

    void UpdateTitle()
    {
        string title;
        if (_prompt.IsEditing)
            title = $"t2x view — prompt: {_prompt.WithCursor}   (Enter: generate, Esc: cancel)";
        else
        {
            var info = _mailbox.Newest;
            string progress = info is null || info.Generation != _worker.Generation ? "starting"
                : info.IsFinal ? $"done, {info.Steps} steps"
                : $"step {info.Step}/{info.Steps}, {info.SecondsPerStep:0.00} s/step";
            title = $"t2x view — \"{_settings.Prompt}\" — seed {_settings.Seed} — {progress}" +
                    (_status.Length > 0 ? $" — {_status}" : "") + "   (Tab: edit prompt, Enter, R: seed, S: save, Q: quit)";
        }
        if (title == _title) return;
        _title = title;
        Glfw.SetTitle(_window, title);
    }

    public void KeyPressed(int key, int mods)
    {
        bool control = (mods & Glfw.ModControl) != 0;
        if (control && key == Glfw.Keys.S) { Save(); return; }
        if (control && key == Glfw.Keys.R) { NewSeed(); return; }
        if (_prompt.IsEditing)
        {
            if (PromptKeyOf(key, control) is { } edit && _prompt.Press(edit) is { } prompt) Generate(_settings with { Prompt = prompt });
            return;
        }
        switch (key)
        {
            case Glfw.Keys.Escape or Glfw.Keys.Q: Glfw.SetWindowShouldClose(_window, 1); break;
            case Glfw.Keys.Enter or Glfw.Keys.KeypadEnter: Generate(_settings); break;
            case Glfw.Keys.R: NewSeed(); break;
            case Glfw.Keys.S: Save(); break;
            case Glfw.Keys.Tab: _prompt.Begin(_settings.Prompt); break;
        }
    }

    static PromptKey? PromptKeyOf(int key, bool control) => key switch
    {
        Glfw.Keys.Enter or Glfw.Keys.KeypadEnter => PromptKey.Submit,
        Glfw.Keys.Escape => PromptKey.Cancel,
        Glfw.Keys.Backspace => PromptKey.Backspace,
        Glfw.Keys.Delete => PromptKey.Delete,
        Glfw.Keys.Left => PromptKey.Left,
        Glfw.Keys.Right => PromptKey.Right,
        Glfw.Keys.Home => PromptKey.Home,
        Glfw.Keys.End => PromptKey.End,
        Glfw.Keys.U when control => PromptKey.ClearLine,
        _ => null,
    };

    void NewSeed() => Generate(_settings with { Seed = Random.Shared.NextInt64(0, 1L << 53) });

    void Save()
    {
        if (_mailbox.Final is not { } final)
        {
            var info = _mailbox.Newest;
            _status = info is null ? "nothing to save yet" : $"not finished yet (step {info.Step}/{info.Steps}): save after the final image";
            return;
        }
        var s = final.Info.Settings;
        try
        {
            Directory.CreateDirectory(_options.OutputDirectory);
            var rgb = Rgb8.FromPlanes(final.Pixels, s.Width, s.Height);
            var metadata = new PngMetadata(s, _source.Model, _source.ModelHash, ModelFolder.EngineVersion);
            // The first free name of t2x-SEED.png, t2x-SEED-1.png, ...: taken exclusively, so a file that appears meanwhile is kept.
            string path = Path.Combine(_options.OutputDirectory, $"t2x-{s.Seed}.png");
            for (int n = 1; ; n++)
            {
                try
                {
                    metadata.Save(path, rgb, s.Width, s.Height);
                    break;
                }
                catch (OutputExistsException) { path = Path.Combine(_options.OutputDirectory, $"t2x-{s.Seed}-{n}.png"); }
            }
            _status = "saved " + path;
            Console.WriteLine($"saved {path}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _status = "save failed: " + e.Message;
            Console.Error.WriteLine($"t2x view: save failed: {e.Message}");
        }
    }

    /// <summary>Plays scripted input once the current generation's final image is on screen.</summary>
    void PlayScript()
    {
        int generation = _worker.Generation;
        _script.Play(this, () => _finalShown && generation == _worker.Generation);
    }

    public void Typed(Rune rune) => _prompt.Type(rune);

    public void Dropped(string path)
    {
        try
        {
            var metadata = PngMetadata.Read(path);
            if (metadata.Model.Length > 0 && metadata.Model != _source.Model)
                Console.WriteLine($"{path} was made with model '{Terminal.Safe(metadata.Model)}'; generating it with '{Terminal.Safe(_source.Model)}'");
            Console.WriteLine($"reproducing {path}: \"{Terminal.Safe(metadata.Settings.Prompt)}\", seed {metadata.Settings.Seed}");
            Generate(metadata.Settings);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            _status = e.Message;
            Console.Error.WriteLine($"t2x view: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    static void OnKey(IntPtr window, int key, int scancode, int action, int mods)
    {
        if (action != Glfw.Release) _current?.KeyPressed(key, mods);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    static void OnChar(IntPtr window, uint codepoint)
    {
        if (_current is { } app && Rune.IsValid(codepoint)) app.Typed(new Rune(codepoint));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    static void OnFramebufferSize(IntPtr window, int width, int height)
    {
        if (_current is not { } app) return;
        app._presenter.Resized();
        app._redraw = true;
    }

    /// <summary>The window system lost the window's contents (uncovered, exposed): show the frame again.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    static void OnRefresh(IntPtr window)
    {
        if (_current is { } app) app._redraw = true;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    static void OnIconify(IntPtr window, int iconified)
    {
        if (_current is not { } app) return;
        app._minimized = iconified != 0;
        app._mailbox.Paused = app._minimized;
        if (!app._minimized) { app._presenter.Resized(); app._redraw = true; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    static void OnDrop(IntPtr window, int count, byte** paths)
    {
        if (_current is not { } app || count < 1) return;
        app.Dropped(Marshal.PtrToStringUTF8((IntPtr)paths[0])!);
    }

    public void Dispose()
    {
        _worker.Dispose();
        _current = null;
        _mailbox.Dispose();     // first: it waits for the presenter's last frame
        _presenter.Dispose();
        (_source as IDisposable)?.Dispose();
        _validation = _gpu.ValidationMessages;
        _gpu.Dispose();
        Glfw.DestroyWindow(_window);
    }
}
