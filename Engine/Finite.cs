namespace T2X.Vulkan;

/// <summary>The one check that numbers are finite: on values read from files before they are used, and on a model's
/// results before they are written, so NaN or infinity fails with a message instead of a black image or a NaN tensor.</summary>
public static class Finite
{
    /// <summary>Throws naming <paramref name="what"/>, the first bad value and how many there are.</summary>
    public static void Require(ReadOnlySpan<float> values, string what)
    {
        int first = -1, count = 0;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
            {
                if (first < 0) first = i;
                count++;
            }
        if (first < 0) return;
        float v = values[first];
        string kind = float.IsNaN(v) ? "NaN" : v > 0 ? "+infinity" : "-infinity";
        throw new InvalidDataException($"{what} holds {kind} at index {first} ({count} of {values.Length} values are not finite)");
    }
}
