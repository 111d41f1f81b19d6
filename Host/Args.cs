namespace T2X.Host;

/// <summary>Thrown for a bad command line; the message says what was wrong and what was expected.</summary>
public sealed class UsageException(string message) : Exception(message) { }

/// <summary>
/// A small command-line reader: positional words, "--name value" / "--name=value" options and "--flag" switches.
/// Every option a command reads is checked off; anything left over is reported as unknown.
/// </summary>
public sealed class Args
{
    readonly List<string> _positional = [];
    readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    readonly HashSet<string> _used = [];

    public Args(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (ShortNames.TryGetValue(a, out var longName)) a = longName;
            if (a.StartsWith("--") && a.Length > 2)
            {
                int eq = a.IndexOf('=');
                if (eq > 0) _options[a[2..eq]] = a[(eq + 1)..];
                else if (i + 1 < list.Count && !list[i + 1].StartsWith("--")) _options[a[2..]] = list[++i];
                else _options[a[2..]] = null;
            }
            else _positional.Add(a);
        }
    }

    /// <summary>Short spellings every command accepts.</summary>
    static readonly Dictionary<string, string> ShortNames = new() { ["-o"] = "--output" };

    public IReadOnlyList<string> Positional => _positional;

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var v)) return false;
        if (v is null) return true;
        // "--flag word" was read as an option value: give the word back as a positional argument.
        _positional.Add(v);
        _options[name] = null;
        return true;
    }

    /// <summary>--help: prints the command's usage and says so (the command then returns 0).</summary>
    public bool Help(string usage)
    {
        if (!Flag("help")) return false;
        Console.WriteLine(usage);
        return true;
    }

    public string? Option(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var v)) return null;
        return v ?? throw new UsageException($"--{name} needs a value");
    }

    public string Require(string name) => Option(name) ?? throw new UsageException($"--{name} is required");

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue) => IntOrNull(name, min, max) ?? fallback;
    public long Long(string name, long fallback) => LongOrNull(name) ?? fallback;
    public double Double(string name, double fallback, double min = double.MinValue, double max = double.MaxValue) => DoubleOrNull(name, min, max) ?? fallback;

    /// <summary>The option as a number from <paramref name="min"/> to <paramref name="max"/>; null when absent (for
    /// defaults that come from elsewhere, such as a model).</summary>
    public int? IntOrNull(string name, int min = int.MinValue, int max = int.MaxValue)
    {
        if (Option(name) is not { } v) return null;
        if (int.TryParse(v, out int n) && n >= min && n <= max) return n;
        string range = (min, max) == (int.MinValue, int.MaxValue) ? "" : max == int.MaxValue ? $" of at least {min}" : $" from {min} to {max}";
        throw new UsageException($"--{name} expects an integer{range}, got '{v}'");
    }

    public long? LongOrNull(string name) =>
        Option(name) is not { } v ? null : long.TryParse(v, out long n) ? n : throw new UsageException($"--{name} expects an integer, got '{v}'");

    /// <summary>The option as a finite number from <paramref name="min"/> to <paramref name="max"/> (NaN and infinities
    /// are refused); null when absent.</summary>
    public double? DoubleOrNull(string name, double min = double.MinValue, double max = double.MaxValue)
    {
        if (Option(name) is not { } v) return null;
        if (double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) && d >= min && d <= max)
            return d;
        string range = (min, max) == (double.MinValue, double.MaxValue) ? "" : $" from {min} to {max}";
        throw new UsageException($"--{name} expects a finite number{range}, got '{v}'");
    }

    /// <summary>A memory size given in GiB (fractions allowed), as bytes; null when the option is absent.</summary>
    public long? Gib(string name)
    {
        if (DoubleOrNull(name) is not { } gib) return null;
        if (!(gib > 0) || gib > 1 << 20) throw new UsageException($"--{name} expects a positive number of GiB, got '{Option(name)}'");
        return (long)(gib * (1L << 30));
    }

    /// <summary>Call after reading every option: unknown options are an error, not silently ignored.</summary>
    public void Done(int maxPositional = 0)
    {
        var unknown = _options.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}");
        if (_positional.Count > maxPositional) throw new UsageException($"unexpected argument '{_positional[maxPositional]}'");
    }
}
