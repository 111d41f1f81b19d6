namespace T2X.Tests.Kernels;

/// <summary>Rows of a row-major f32 matrix of the given width; head h of row r is at r·Width + Offset + h·d.</summary>
public sealed record HeadRows(float[] Data, int Width, int Offset);

/// <summary>Straightforward double-precision attention, the reference of the attention kernels.</summary>
public static class AttentionReference
{
    /// <summary>
    /// One head: output row oRows[a] = softmax_b(scale·q[qRows[a]]·k[kRows[b]] + bias(a, b)) · v[kRows[b]].
    /// The logits are rounded to f32 as the kernel (and the official fp32 code) forms them: at a −10000 mask the f32
    /// spacing is 1e-3, which decides the result of a row whose keys are all masked.
    /// </summary>
    public static void Head(HeadRows q, int[] qRows, HeadRows k, HeadRows v, int[] kRows, int h, int d, double scale,
        Func<int, int, double> bias, double[] o, int oWidth, int[] oRows)
    {
        var logits = new double[kRows.Length];
        for (int a = 0; a < qRows.Length; a++)
        {
            double max = double.NegativeInfinity;
            for (int b = 0; b < kRows.Length; b++)
            {
                double dot = 0;
                for (int c = 0; c < d; c++)
                    dot += (double)q.Data[qRows[a] * q.Width + q.Offset + h * d + c] * k.Data[kRows[b] * k.Width + k.Offset + h * d + c];
                logits[b] = (float)(scale * dot + bias(a, b));
                max = Math.Max(max, logits[b]);
            }
            double sum = 0;
            for (int b = 0; b < kRows.Length; b++) sum += logits[b] = Math.Exp(logits[b] - max);
            for (int c = 0; c < d; c++)
            {
                double acc = 0;
                for (int b = 0; b < kRows.Length; b++) acc += logits[b] * v.Data[kRows[b] * v.Width + v.Offset + h * d + c];
                o[oRows[a] * oWidth + h * d + c] = acc / sum;
            }
        }
    }

    public static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();
}
