using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace T2X.Trainer;

/// <summary>Conversions between RGB bytes and model pixels in [-1, 1], and PNG grids for looking at samples.</summary>
public static class Images
{
    /// <summary>RGB bytes [size, size, 3] -> floats [3, size, size] in [-1, 1].</summary>
    public static float[] ToPlanar(byte[] rgb, int size)
    {
        var planar = new float[3 * size * size];
        for (int i = 0; i < size * size; i++)
            for (int ch = 0; ch < 3; ch++) planar[ch * size * size + i] = rgb[i * 3 + ch] / 127.5f - 1;
        return planar;
    }

    /// <summary>Model output [B, 3, H, W] -> RGB bytes per image: clamp to [-1, 1], map to [0, 255] (as the VAE decode does).</summary>
    public static byte[][] ToRgb(Tensor pixels)
    {
        long b = pixels.shape[0], h = pixels.shape[2], w = pixels.shape[3];
        var data = ((pixels.clamp(-1, 1) + 1) * 127.5).round().to_type(uint8).permute(0, 2, 3, 1).contiguous().data<byte>().ToArray();
        return Enumerable.Range(0, (int)b).Select(i => data.AsSpan((int)(i * h * w * 3), (int)(h * w * 3)).ToArray()).ToArray();
    }

    /// <summary>Writes square RGB images as one PNG grid, `columns` per row, each tile enlarged `zoom` times.</summary>
    public static void SaveGrid(string path, IReadOnlyList<byte[]> images, int size, int columns, int zoom = 2)
    {
        int rows = (images.Count + columns - 1) / columns, tile = size * zoom + 2;
        using var grid = new Image<Rgb24>(columns * tile, rows * tile, new Rgb24(128, 128, 128));
        for (int k = 0; k < images.Count; k++)
            for (int y = 0; y < size * zoom; y++)
                for (int x = 0; x < size * zoom; x++)
                {
                    int i = ((y / zoom) * size + x / zoom) * 3;
                    grid[(k % columns) * tile + 1 + x, (k / columns) * tile + 1 + y] = new Rgb24(images[k][i], images[k][i + 1], images[k][i + 2]);
                }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        grid.SaveAsPng(path);
    }
}
