namespace T2X.DataGen;

/// <summary>
/// The caption grammar of the built-in model (issue 5), kept exactly so prompts from anyone who knows it work:
/// object = "a {color} {shape} {position}"; caption = object | object " and " object,
/// optionally followed by " on a {color} background".
/// </summary>
public static class Grammar
{
    public static readonly string[] Colors = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black"];
    public static readonly string[] Shapes = ["circle", "square", "triangle"];

    /// <summary>The 3×3 grid cells, index = row * 3 + column (row 0 = top, column 0 = left).</summary>
    public static readonly string[] Positions =
    [
        "in the top left corner", "at the top", "in the top right corner",
        "on the left", "in the center", "on the right",
        "in the bottom left corner", "at the bottom", "in the bottom right corner",
    ];

    /// <summary>The flat RGB value drawn for each color (same order as <see cref="Colors"/>).</summary>
    public static readonly (byte R, byte G, byte B)[] Rgb =
    [
        (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0),
        (0, 255, 255), (255, 0, 255), (255, 255, 255), (0, 0, 0),
    ];

    /// <summary>Every word a caption can contain, in a fixed order (the tokenizer's vocabulary after the specials).</summary>
    public static readonly string[] Words = BuildWords();

    static string[] BuildWords()
    {
        var words = new List<string> { "a", "and", "on", "background" };
        words.AddRange(Colors);
        words.AddRange(Shapes);
        foreach (var position in Positions)
            foreach (var word in position.Split(' '))
                if (!words.Contains(word)) words.Add(word);
        return [.. words];
    }

    public static int ColorIndex(string name) => IndexOf(Colors, name, "color");
    public static int ShapeIndex(string name) => IndexOf(Shapes, name, "shape");
    public static int PositionIndex(string phrase) => IndexOf(Positions, phrase, "position");

    static int IndexOf(string[] names, string name, string what)
    {
        int i = Array.IndexOf(names, name);
        if (i < 0) throw new FormatException($"unknown {what} '{name}'; expected one of: {string.Join(", ", names)}");
        return i;
    }
}
