using System.Text;

namespace T2X.Vulkan.Presentation;

/// <summary>The editing keys of a <see cref="PromptEditor"/>: a window maps its own key codes to these.</summary>
internal enum PromptKey { Submit, Cancel, Backspace, Delete, Left, Right, Home, End, ClearLine }

/// <summary>
/// The viewer's one-line prompt field, apart from any window: it starts from the current prompt with the cursor at
/// the end, takes typed text at the cursor and the editing keys, and hands back the prompt when the edit is
/// submitted. Keys that would move past either end do nothing.
/// </summary>
internal sealed class PromptEditor
{
    readonly StringBuilder _text = new();

    public bool IsEditing { get; private set; }
    public string Text => _text.ToString();
    /// <summary>Position of the cursor in <see cref="Text"/> (UTF-16 units, between characters).</summary>
    public int Cursor { get; private set; }

    /// <summary>The text with a bar at the cursor, as the window's title shows it.</summary>
    public string WithCursor
    {
        get
        {
            string text = Text;
            return $"{text[..Cursor]}|{text[Cursor..]}";
        }
    }

    /// <summary>Starts editing <paramref name="prompt"/>, the cursor after its last character.</summary>
    public void Begin(string prompt)
    {
        _text.Clear().Append(prompt);
        Cursor = _text.Length;
        IsEditing = true;
    }

    /// <summary>Inserts a typed character at the cursor (ignored while not editing).</summary>
    public void Type(Rune rune)
    {
        if (!IsEditing) return;
        string text = rune.ToString();
        _text.Insert(Cursor, text);
        Cursor += text.Length;
    }

    /// <summary>Applies an editing key; returns the edited prompt when the key submits it, else null.</summary>
    public string? Press(PromptKey key)
    {
        if (!IsEditing) return null;
        switch (key)
        {
            case PromptKey.Submit:
                IsEditing = false;
                return Text;
            case PromptKey.Cancel: IsEditing = false; break;
            case PromptKey.Backspace when Cursor > 0: _text.Remove(--Cursor, 1); break;
            case PromptKey.Delete when Cursor < _text.Length: _text.Remove(Cursor, 1); break;
            case PromptKey.Left when Cursor > 0: Cursor--; break;
            case PromptKey.Right when Cursor < _text.Length: Cursor++; break;
            case PromptKey.Home: Cursor = 0; break;
            case PromptKey.End: Cursor = _text.Length; break;
            case PromptKey.ClearLine: _text.Clear(); Cursor = 0; break;
        }
        return null;
    }
}
