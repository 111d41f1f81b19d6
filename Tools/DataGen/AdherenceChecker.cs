namespace T2X.DataGen;

/// <summary>How well an image shows a caption's meaning: per object, is its color in its cell and is its shape right;
/// is the named background there.</summary>
public sealed record Adherence(bool[] ColorInCell, bool[] ShapeRight, string[] ShapeSeen, bool BackgroundRight)
{
    public bool AllColors => ColorInCell.All(x => x) && BackgroundRight;
    public bool AllShapes => ShapeRight.All(x => x);
}

/// <summary>
/// Reads an RGB image (any source: the data generator, the trainer's samples, `t2x generate`) against a caption's
/// meaning. Every pixel is classified as its nearest palette color. An object's color is present when at least
/// a fifth of its shape's expected area in its grid cell has that color. Its shape is read from how much of the
/// bounding box of those pixels they fill: square 1, circle π/4, triangle 1/2. The background is right when the
/// named color is the most common one outside the objects' cells.
/// </summary>
public static class AdherenceChecker
{
    public static Adherence Check(byte[] rgb, int size, CaptionMeaning meaning)
    {
        if (rgb.Length != size * size * 3) throw new ArgumentException($"image has {rgb.Length} bytes; expected {size}×{size}×3 = {size * size * 3}", nameof(rgb));
        var labels = new int[size * size];
        for (int i = 0; i < labels.Length; i++) labels[i] = NearestColor(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]);

        int n = meaning.Objects.Count;
        var colorOk = new bool[n];
        var shapeOk = new bool[n];
        var shapeSeen = new string[n];
        for (int k = 0; k < n; k++)
        {
            var (color, shape, cell) = meaning.Objects[k];
            var (x0, y0, x1, y1) = CellBounds(cell, size);
            int count = 0, minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++)
                    if (labels[y * size + x] == color)
                    {
                        count++;
                        minX = Math.Min(minX, x); maxX = Math.Max(maxX, x);
                        minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
                    }
            double expectedArea = Math.Pow(Scene.MinSize * size, 2) * 0.5; // the smallest shape: a small triangle
            colorOk[k] = count >= 0.2 * expectedArea;
            if (count == 0) { shapeSeen[k] = "none"; continue; }
            double fill = count / (double)((maxX - minX + 1) * (maxY - minY + 1));
            shapeSeen[k] = fill > 0.89 ? "square" : fill > 0.64 ? "circle" : "triangle";
            shapeOk[k] = colorOk[k] && shapeSeen[k] == Grammar.Shapes[shape];
        }

        bool backgroundOk = true;
        if (meaning.Background is int background)
        {
            var votes = new int[Grammar.Colors.Length];
            var objectCells = meaning.Objects.Select(o => o.Cell).ToHashSet();
            for (int cell = 0; cell < 9; cell++)
            {
                if (objectCells.Contains(cell)) continue;
                var (x0, y0, x1, y1) = CellBounds(cell, size);
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) votes[labels[y * size + x]]++;
            }
            backgroundOk = Array.IndexOf(votes, votes.Max()) == background;
        }
        return new Adherence(colorOk, shapeOk, shapeSeen, backgroundOk);
    }

    /// <summary>Pixel bounds [x0, x1) × [y0, y1) of a 3×3 grid cell.</summary>
    public static (int X0, int Y0, int X1, int Y1) CellBounds(int cell, int size)
    {
        int col = cell % 3, row = cell / 3;
        return (col * size / 3, row * size / 3, (col + 1) * size / 3, (row + 1) * size / 3);
    }

    public static int NearestColor(byte r, byte g, byte b)
    {
        int best = 0, bestDistance = int.MaxValue;
        for (int c = 0; c < Grammar.Rgb.Length; c++)
        {
            var (pr, pg, pb) = Grammar.Rgb[c];
            int d = (r - pr) * (r - pr) + (g - pg) * (g - pg) + (b - pb) * (b - pb);
            if (d < bestDistance) { bestDistance = d; best = c; }
        }
        return best;
    }
}
