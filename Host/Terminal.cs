using System.Globalization;
using System.Text;

namespace T2X.Host;

/// <summary>Text from files and prompts as it is printed: control characters (C0, DEL, C1: ESC sequences could retitle
/// or clear the terminal) are shown escaped, as \n, \t, \e or \u009b.</summary>
public static class Terminal
{
    public static string Safe(string text, bool keepNewlines = false)
    {
        if (!text.Any(char.IsControl)) return text;
        var sb = new StringBuilder(text.Length + 8);
        foreach (char c in text)
            sb.Append(c switch
            {
                '\n' => keepNewlines ? "\n" : "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                '\x1b' => "\\e",
                _ when char.IsControl(c) => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        return sb.ToString();
    }
}
