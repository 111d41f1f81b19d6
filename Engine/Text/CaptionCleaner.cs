using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace T2X.Vulkan.Text;

/// <summary>
/// The PixArt / DeepFloyd-IF caption cleaner that the Qihoo pipeline applies to every prompt
/// (MindSpeed-MM TextProcesser.clean_caption; docs/t5.md §7), step by step in the same order.
/// Python <c>re</c> semantics are kept where .NET differs: <c>\w</c> is letters, numbers and '_' (no combining
/// marks), <c>\b</c> is built on that <c>\w</c>, <c>\s</c> includes U+001C..U+001F, and lower-casing follows
/// Python's <c>str.lower</c> (İ and final sigma).
/// Known approximations: the HTML step handles tags, comments, declarations and character references as
/// Python's html.parser does for ordinary text, not every malformed-markup corner; ftfy.fix_text is reduced to
/// the fixes that apply to text that is not mojibake (HTML entities, ligatures, character width, quotes, line
/// breaks, control characters); NFC is not applied (the tokenizer's NFKC charsmap follows anyway).
/// </summary>
public static class CaptionCleaner
{
    // Python's \w, \W, \s, \S and \b for str patterns.
    const string W = @"[\p{L}\p{N}_]";
    const string NotW = @"[^\p{L}\p{N}_]";
    const string S = @"[\s\x1c-\x1f]";
    const string NotS = @"[^\s\x1c-\x1f]";
    const string B = @"(?:(?<=[\p{L}\p{N}_])(?![\p{L}\p{N}_])|(?<![\p{L}\p{N}_])(?=[\p{L}\p{N}_]))";

    /// <summary>Translates a Python pattern's \w \W \s \S \b (outside character classes) to the forms above;
    /// inside classes \w and \s are expanded too.</summary>
    static Regex Py(string pattern)
    {
        var sb = new StringBuilder();
        bool inClass = false;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                char e = pattern[++i];
                string? rep = (e, inClass) switch
                {
                    ('w', false) => W, ('W', false) => NotW, ('s', false) => S, ('S', false) => NotS, ('b', false) => B,
                    ('w', true) => @"\p{L}\p{N}_", ('s', true) => @"\s\x1c-\x1f",
                    ('_', _) => "_",
                    ('W' or 'S', true) => throw new ArgumentException($"\\{e} inside a class is not translated: {pattern}"),
                    _ => null,
                };
                sb.Append(rep ?? "\\" + e);
                continue;
            }
            if (c == '[' && !inClass) inClass = true;
            else if (c == ']' && inClass && pattern[i - 1] != '[' && !(pattern[i - 1] == '^' && pattern[i - 2] == '[')) inClass = false;
            sb.Append(c);
        }
        return new Regex(sb.ToString(), RegexOptions.CultureInvariant);
    }

    static readonly Regex UrlA = Py(@"\b((?:https?:(?:\/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\-]+[.](?:com|co|ru|net|org|edu|gov|it)[\w/-]*\b\/?(?!@)))");
    static readonly Regex UrlB = Py(@"\b((?:www:(?:\/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\-]+[.](?:com|co|ru|net|org|edu|gov|it)[\w/-]*\b\/?(?!@)))");
    static readonly Regex Nickname = Py(@"@[\w\d]+\b");
    static readonly Regex Cjk = Py(@"[\u31c0-\u31ef\u31f0-\u31ff\u3200-\u32ff\u3300-\u33ff\u3400-\u4dbf\u4dc0-\u4dff\u4e00-\u9fff]+");
    static readonly Regex Dashes = Py(@"[\u002D\u058A\u05BE\u1400\u1806\u2010-\u2015\u2E17\u2E1A\u2E3A\u2E3B\u2E40\u301C\u3030\u30A0\uFE31\uFE32\uFE58\uFE63\uFF0D]+");
    static readonly Regex DoubleQuotes = Py("[`´«»“”¨]");
    static readonly Regex SingleQuotes = Py("[‘’]");
    static readonly Regex Quot = Py("&quot;?");
    static readonly Regex Amp = Py("&amp");
    static readonly Regex Ip = Py(@"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}");
    static readonly Regex ArticleId = Py(@"\d:\d\d\s+$");
    static readonly Regex EscapedNewline = Py(@"\\n");
    static readonly Regex[] Ids = [Py(@"#\d{1,3}\b"), Py(@"#\d{5,}\b"), Py(@"\b\d{6,}\b")];
    static readonly Regex FileName = Py(@"\S+\.(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)");
    static readonly Regex Quotes2 = Py("[\"']{2,}");
    static readonly Regex Dots2 = Py(@"[\.]{2,}");
    static readonly Regex BadPunct = Py(@"[#®•©™&@·º½¾¿¡§~\)\(\]\[\}\{\|\\\/\*]{1,}");
    static readonly Regex SpacedDot = Py(@"\s+\.\s+");
    static readonly Regex DashOrUnderscore = Py(@"(?:\-|\_)");
    static readonly Regex[] Codes = [Py(@"\b[a-zA-Z]{1,3}\d{3,15}\b"), Py(@"\b[a-zA-Z]+\d+[a-zA-Z]+\b"), Py(@"\b\d+[a-zA-Z]+\d+\b")];
    static readonly Regex[] Spam =
    [
        Py(@"(worldwide\s+)?(free\s+)?shipping"), Py(@"(free\s)?download(\sfree)?"), Py(@"\bclick\b\s(?:for|on)\s\w+"),
        Py(@"\b(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)(\simage[s]?)?"), Py(@"\bpage\s+\d+\b"),
    ];
    static readonly Regex MixedCode = Py(@"\b\d*[a-zA-Z]+\d+[a-zA-Z]+\d+[a-zA-Z\d]*\b");
    static readonly Regex Size = Py(@"\b\d+\.?\d*[xх×]\d+\.?\d*\b");
    static readonly Regex SpacedColon = Py(@"\b\s+\:\s+");
    static readonly Regex PunctThenWord = Py(@"(\D[,\./])\b");
    static readonly Regex Spaces = Py(@"\s+");
    static readonly Regex Quoted = Py(@"^[""']([\d\D]+)[""']$");   // [\w\W]: any character
    static readonly Regex LeadingPunct = Py(@"^['\_,\-\:;]");
    static readonly Regex TrailingPunct = Py(@"['\_,\-\:\-\+]$");
    static readonly Regex DotToken = Py(@"^\.\S+$");

    public static string Clean(string caption)
    {
        string c = UnquotePlus(caption);
        c = PyLower(PyStrip(c));
        c = c.Replace("<person>", "person");
        c = UrlA.Replace(c, "");
        c = UrlB.Replace(c, "");
        c = HtmlText(c);
        c = Nickname.Replace(c, "");
        c = Cjk.Replace(c, "");
        c = Dashes.Replace(c, "-");
        c = DoubleQuotes.Replace(c, "\"");
        c = SingleQuotes.Replace(c, "'");
        c = Quot.Replace(c, "");
        c = Amp.Replace(c, "");
        c = Ip.Replace(c, " ");
        c = ArticleId.Replace(c, "");
        c = EscapedNewline.Replace(c, " ");
        foreach (var r in Ids) c = r.Replace(c, "");
        c = FileName.Replace(c, "");
        c = Quotes2.Replace(c, "\"");
        c = Dots2.Replace(c, " ");
        c = BadPunct.Replace(c, " ");
        c = SpacedDot.Replace(c, " ");
        if (DashOrUnderscore.Count(c) > 3) c = DashOrUnderscore.Replace(c, " ");
        c = BasicClean(c);
        foreach (var r in Codes) c = r.Replace(c, "");
        foreach (var r in Spam) c = r.Replace(c, "");
        c = MixedCode.Replace(c, " ");
        c = Size.Replace(c, "");
        c = SpacedColon.Replace(c, ": ");
        c = PunctThenWord.Replace(c, "$1 ");
        c = Spaces.Replace(c, " ");
        c = Quoted.Replace(c, "$1");
        c = LeadingPunct.Replace(c, "");
        c = TrailingPunct.Replace(c, "");
        c = DotToken.Replace(c, "");
        return PyStrip(c);
    }

    /// <summary>What the pipeline does to the negative prompt (no cleaning): lower-case and strip.</summary>
    public static string LowerStrip(string text) => PyStrip(PyLower(text));

    static bool PyIsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    static string PyStrip(string s)
    {
        int a = 0, b = s.Length;
        while (a < b && PyIsSpace(s[a])) a++;
        while (b > a && PyIsSpace(s[b - 1])) b--;
        return s[a..b];
    }

    /// <summary>Python str.lower: simple lower-case mapping plus İ → i̇ and the final-sigma rule.</summary>
    static string PyLower(string s)
    {
        var lower = s.ToLowerInvariant().Replace("\u0130", "i\u0307");
        if (!s.Contains('Σ')) return lower;
        var sb = new StringBuilder(lower);
        for (int i = 0; i < sb.Length; i++)
        {
            if (sb[i] != 'σ' || !IsSigmaFromCapital(s, sb, i)) continue;
            bool casedBefore = i > 0 && char.IsLetter(sb[i - 1]);
            bool casedAfter = i + 1 < sb.Length && char.IsLetter(sb[i + 1]);
            if (casedBefore && !casedAfter) sb[i] = 'ς';
        }
        return sb.ToString();

        // Only capital sigmas become final; an original small σ stays as it is. Positions shift after İ.
        static bool IsSigmaFromCapital(string original, StringBuilder lowered, int i)
        {
            int shift = 0;
            for (int k = 0; k < original.Length && k + shift <= i; k++)
            {
                if (k + shift == i) return original[k] == 'Σ';
                if (original[k] == '\u0130') shift++;
            }
            return false;
        }
    }

    /// <summary>urllib.parse.unquote_plus: '+' → space, runs of %XX decoded as UTF-8 (invalid bytes → U+FFFD).</summary>
    static string UnquotePlus(string s)
    {
        s = s.Replace('+', ' ');
        if (!s.Contains('%')) return s;
        var sb = new StringBuilder(s.Length);
        var bytes = new List<byte>();
        for (int i = 0; i < s.Length;)
        {
            if (s[i] == '%' && i + 2 < s.Length && IsHex(s[i + 1]) && IsHex(s[i + 2]))
            {
                bytes.Add(Convert.ToByte(s.Substring(i + 1, 2), 16));
                i += 3;
                continue;
            }
            if (bytes.Count > 0) { sb.Append(Encoding.UTF8.GetString(bytes.ToArray())); bytes.Clear(); }
            sb.Append(s[i]);
            i++;
        }
        if (bytes.Count > 0) sb.Append(Encoding.UTF8.GetString(bytes.ToArray()));
        return sb.ToString();

        static bool IsHex(char c) => char.IsAsciiHexDigit(c);
    }

    static readonly Regex HtmlMarkup = new(
        @"<!--.*?-->" +                                            // comment
        @"|<[a-zA-Z][^\t\n\r\f />\x00]*(?:[^>""']|""[^""]*""|'[^']*')*>" + // start tag with attributes
        @"|</[a-zA-Z][^>]*>" +                                     // end tag
        @"|</[^a-zA-Z>][^>]*>|</>" +                               // bogus end tags (comments to html.parser)
        @"|<![^>]*>|<\?[^>]*>",                                    // declarations, processing instructions
        RegexOptions.Singleline | RegexOptions.CultureInvariant);

    /// <summary>BeautifulSoup(text, "html.parser").text: markup removed, character references decoded.</summary>
    static string HtmlText(string s) => s.Contains('<') || s.Contains('&') ? WebUtility.HtmlDecode(HtmlMarkup.Replace(s, "")) : s;

    /// <summary>ftfy.fix_text (non-mojibake fixes) then html.unescape twice, then strip.</summary>
    static string BasicClean(string s)
    {
        s = FixText(s);
        s = WebUtility.HtmlDecode(WebUtility.HtmlDecode(s));
        return PyStrip(s);
    }

    static readonly Regex LineBreaks = new("\r\n|[\r\u2028\u2029\u0085]", RegexOptions.CultureInvariant);
    static readonly Regex ControlChars = new(@"[\x00-\x08\x0b\x0e-\x1f\x7f\ufeff\ufff9-\ufffb\u206a-\u206f]", RegexOptions.CultureInvariant);

    static readonly Dictionary<char, string> Ligatures = new()
    {
        ['Ĳ'] = "IJ", ['ĳ'] = "ij", ['ŉ'] = "ʼn", ['Ǳ'] = "DZ", ['ǲ'] = "Dz", ['ǳ'] = "dz", ['Ǆ'] = "DŽ", ['ǅ'] = "Dž", ['ǆ'] = "dž",
        ['Ǉ'] = "LJ", ['ǈ'] = "Lj", ['ǉ'] = "lj", ['Ǌ'] = "NJ", ['ǋ'] = "Nj", ['ǌ'] = "nj",
        ['ﬀ'] = "ff", ['ﬁ'] = "fi", ['ﬂ'] = "fl", ['ﬃ'] = "ffi", ['ﬄ'] = "ffl", ['ﬅ'] = "ſt", ['ﬆ'] = "st",
    };

    static string FixText(string s)
    {
        if (!s.Contains('<')) s = WebUtility.HtmlDecode(s);
        var sb = new StringBuilder(s.Length);
        foreach (char ch in s)
        {
            if (Ligatures.TryGetValue(ch, out var lig)) sb.Append(lig);
            else if (ch is >= '\uFF01' and <= '\uFF5E') sb.Append((char)(ch - 0xFEE0));   // full-width ASCII
            else if (ch == '\u3000') sb.Append(' ');
            else if (ch is '‘' or '’' or '‚' or '‛') sb.Append('\'');
            else if (ch is '“' or '”' or '„' or '‟') sb.Append('"');
            else sb.Append(ch);
        }
        s = LineBreaks.Replace(sb.ToString(), "\n");
        return ControlChars.Replace(s, "");
    }
}
