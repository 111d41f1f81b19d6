namespace T2X.Vulkan.Models;

/// <summary>
/// Bounds on the numbers a model's config.json may hold, far above any released model (T5-XXL: 24 layers, d_ff 10240,
/// vocabulary 32128; PT-DiT: 28 layers, width 1152), checked when the config is read: a config that asks for a
/// billion layers is refused with the number instead of allocating before any other check, and products of
/// dimensions stay far from overflowing.
/// </summary>
public static class ConfigLimits
{
    public const int MaxDimension = 1 << 20;
    public const int MaxLayers = 1000;

    /// <summary>Throws naming <paramref name="key"/> when <paramref name="value"/> is above <paramref name="max"/>.</summary>
    public static int AtMost(string key, int value, int max = MaxDimension) =>
        value <= max ? value : throw new InvalidDataException($"{key} is {value}, more than the {max} any model of this kind has");
}
