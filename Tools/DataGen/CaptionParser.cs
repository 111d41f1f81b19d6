namespace T2X.DataGen;

/// <summary>What a caption of the grammar says: the objects (color, shape, cell) and the named background, if any.</summary>
public sealed record CaptionMeaning(IReadOnlyList<(int Color, int Shape, int Cell)> Objects, int? Background);

/// <summary>Reads a caption of the grammar back into its meaning; anything outside the grammar is a FormatException.</summary>
public static class CaptionParser
{
    public static CaptionMeaning Parse(string caption)
    {
        string text = string.Join(' ', caption.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries));
        int? background = null;
        int on = text.LastIndexOf(" on a ", StringComparison.Ordinal);
        if (text.EndsWith(" background", StringComparison.Ordinal) && on >= 0)
        {
            string color = text[(on + " on a ".Length)..^" background".Length];
            background = Grammar.ColorIndex(color);
            text = text[..on];
        }
        var objects = new List<(int, int, int)>();
        foreach (string phrase in text.Split(" and "))
        {
            string[] words = phrase.Split(' ');
            if (words.Length < 4 || words[0] != "a")
                throw new FormatException($"'{phrase}' is not 'a {{color}} {{shape}} {{position}}'");
            objects.Add((Grammar.ColorIndex(words[1]), Grammar.ShapeIndex(words[2]), Grammar.PositionIndex(string.Join(' ', words[3..]))));
        }
        if (objects.Count > 2) throw new FormatException($"'{caption}' names {objects.Count} objects; the grammar allows 1 or 2");
        return new CaptionMeaning(objects, background);
    }
}
