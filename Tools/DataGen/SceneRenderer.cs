namespace T2X.DataGen;

/// <summary>Draws a scene as flat colors, no anti-aliasing: RGB bytes, row-major, [size, size, 3].</summary>
public static class SceneRenderer
{
    public static byte[] Render(Scene scene, int size)
    {
        if (size < 16) throw new ArgumentOutOfRangeException(nameof(size), size, "image side must be at least 16 pixels");
        var rgb = new byte[size * size * 3];
        for (int i = 0; i < size * size; i++) Put(rgb, i, scene.Background);
        foreach (var o in scene.Objects)
        {
            double half = o.Size * size / 2, cx = o.CenterX * size, cy = o.CenterY * size;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    if (Inside(o.Shape, (x + 0.5 - cx) / half, (y + 0.5 - cy) / half))
                        Put(rgb, y * size + x, o.Color);
        }
        return rgb;
    }

    /// <summary>Whether a pixel center at (u, v), relative to the shape center in half-sides (y down), is inside.</summary>
    static bool Inside(int shape, double u, double v) => Grammar.Shapes[shape] switch
    {
        "circle" => u * u + v * v <= 1,
        "square" => Math.Abs(u) <= 1 && Math.Abs(v) <= 1,
        // Apex at the top middle, base along the bottom edge of the bounding square.
        "triangle" => v >= -1 && v <= 1 && Math.Abs(u) <= (v + 1) / 2,
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    static void Put(byte[] rgb, int pixel, int color)
    {
        var (r, g, b) = Grammar.Rgb[color];
        rgb[pixel * 3] = r;
        rgb[pixel * 3 + 1] = g;
        rgb[pixel * 3 + 2] = b;
    }
}
