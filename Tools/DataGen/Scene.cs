namespace T2X.DataGen;

/// <summary>One drawn shape: grid cell, color, shape, and where exactly it lands (center and side in image fractions).</summary>
public sealed record SceneObject(int Color, int Shape, int Cell, double CenterX, double CenterY, double Size)
{
    /// <summary>"a {color} {shape} {position}".</summary>
    public string Phrase => $"a {Grammar.Colors[Color]} {Grammar.Shapes[Shape]} {Grammar.Positions[Cell]}";
}

/// <summary>A training example: one or two objects on a flat background, and whether the caption names the background.</summary>
public sealed record Scene(IReadOnlyList<SceneObject> Objects, int Background, bool BackgroundNamed)
{
    /// <summary>Shape side as a fraction of the image side: about a quarter.</summary>
    public const double MinSize = 0.22, MaxSize = 0.27;

    /// <summary>Largest offset of a shape's center from its cell's center (image fraction). With the largest size,
    /// shapes in neighbouring cells never touch (2·0.135 + 2·0.025 &lt; 1/3) and every shape stays inside the image.</summary>
    public const double MaxJitter = 0.025;

    public string Caption
    {
        get
        {
            string text = string.Join(" and ", Objects.Select(o => o.Phrase));
            return BackgroundNamed ? $"{text} on a {Grammar.Colors[Background]} background" : text;
        }
    }

    /// <summary>A random scene: 1 or 2 objects in different cells with different colors, a background color
    /// different from the objects' colors, named in the caption half of the time.</summary>
    public static Scene Random(Random rng)
    {
        int count = rng.Next(2) + 1;
        var objects = new List<SceneObject>();
        var usedColors = new List<int>();
        var usedCells = new List<int>();
        for (int i = 0; i < count; i++)
        {
            int color = PickOther(rng, Grammar.Colors.Length, usedColors);
            int cell = PickOther(rng, 9, usedCells);
            usedColors.Add(color);
            usedCells.Add(cell);
            double size = MinSize + rng.NextDouble() * (MaxSize - MinSize);
            double cx = (cell % 3 + 0.5) / 3 + (rng.NextDouble() * 2 - 1) * MaxJitter;
            double cy = (cell / 3 + 0.5) / 3 + (rng.NextDouble() * 2 - 1) * MaxJitter;
            objects.Add(new SceneObject(color, rng.Next(Grammar.Shapes.Length), cell, cx, cy, size));
        }
        int background = PickOther(rng, Grammar.Colors.Length, usedColors);
        return new Scene(objects, background, rng.Next(2) == 0);
    }

    /// <summary>The scene for example <paramref name="index"/> of the data set with this seed (deterministic).</summary>
    public static Scene ForIndex(int seed, long index) => Random(new Random(Mix(seed, index)));

    /// <summary>A fixed 64-bit mix of (seed, index) into a Random seed (HashCode.Combine is randomized per process).</summary>
    static int Mix(int seed, long index)
    {
        ulong z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }

    static int PickOther(Random rng, int n, List<int> taken)
    {
        while (true)
        {
            int k = rng.Next(n);
            if (!taken.Contains(k)) return k;
        }
    }
}
