using System.Text;

namespace T2X.Host.Viewer;

/// <summary>The viewer's input handlers that a script drives: the same ones the window's callbacks call.</summary>
internal interface IViewerInput
{
    /// <summary>A GLFW key pressed, with GLFW modifier bits.</summary>
    void KeyPressed(int key, int mods);
    void Typed(Rune rune);
    void Dropped(string path);
}

/// <summary>
/// Test aid (<see cref="ViewerOptions.Script"/>): input played through the viewer's real handlers. Actions:
/// "key:NAME" (s, r, q, tab, enter, esc, backspace, delete, left, right, home, end, any letter; "ctrl+" before it
/// holds Control), "type:TEXT", "drop:FILE".
/// </summary>
internal sealed class ScriptedInput(IReadOnlyList<string> actions)
{
    readonly Queue<string> _actions = new(actions);

    public bool IsDone => _actions.Count == 0;

    /// <summary>Plays actions while <paramref name="ready"/> holds (the viewer waits for a final image, and stops as
    /// soon as an action starts a new generation).</summary>
    public void Play(IViewerInput input, Func<bool> ready)
    {
        while (ready() && _actions.TryDequeue(out var action))
        {
            Console.WriteLine($"script: {action}");
            int colon = action.IndexOf(':');
            string kind = colon < 0 ? action : action[..colon], arg = colon < 0 ? "" : action[(colon + 1)..];
            switch (kind)
            {
                case "drop": input.Dropped(arg); break;
                case "type":
                    foreach (var rune in arg.EnumerateRunes()) input.Typed(rune);
                    break;
                case "key":
                    bool control = arg.StartsWith("ctrl+");
                    input.KeyPressed(Key(control ? arg[5..] : arg), control ? Glfw.ModControl : 0);
                    break;
                default: throw new ArgumentException($"--script: unknown action '{action}' (expected key:NAME, type:TEXT or drop:FILE)");
            }
        }
    }

    static int Key(string name) => name switch
    {
        "enter" => Glfw.Keys.Enter, "esc" => Glfw.Keys.Escape, "tab" => Glfw.Keys.Tab,
        "backspace" => Glfw.Keys.Backspace, "delete" => Glfw.Keys.Delete, "left" => Glfw.Keys.Left,
        "right" => Glfw.Keys.Right, "home" => Glfw.Keys.Home, "end" => Glfw.Keys.End,
        _ when name.Length == 1 && char.IsAsciiLetter(name[0]) => char.ToUpperInvariant(name[0]),
        _ => throw new ArgumentException($"--script: unknown key '{name}'"),
    };
}
