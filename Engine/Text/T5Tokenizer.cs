using System.Text;

namespace T2X.Vulkan.Text;

/// <summary>Token ids and attention mask of a batch of texts, each padded to the same length.</summary>
public sealed record TokenBatch(long[] InputIds, long[] AttentionMask, int Count, int MaxLength)
{
    public ReadOnlySpan<long> Ids(int row) => InputIds.AsSpan(row * MaxLength, MaxLength);
    public ReadOnlySpan<long> Mask(int row) => AttentionMask.AsSpan(row * MaxLength, MaxLength);

    /// <summary>Positions up to and including the last real token (mask 1) of any row; <see cref="MaxLength"/> when a
    /// row has none. Every position after it is padding in every row.</summary>
    public int RealLength
    {
        get
        {
            int used = 0;
            for (int row = 0; row < Count; row++)
            {
                int last = Mask(row).LastIndexOfAnyExcept(0L);
                if (last < 0) return MaxLength;
                used = Math.Max(used, last + 1);
            }
            return used;
        }
    }

    /// <summary>The first <paramref name="length"/> positions of every row.</summary>
    public TokenBatch Prefix(int length)
    {
        if (length < 1 || length > MaxLength) throw new ArgumentOutOfRangeException(nameof(length), $"a prefix of 1..{MaxLength} positions, got {length}");
        var ids = new long[Count * length];
        var mask = new long[Count * length];
        for (int row = 0; row < Count; row++)
        {
            Ids(row)[..length].CopyTo(ids.AsSpan(row * length));
            Mask(row)[..length].CopyTo(mask.AsSpan(row * length));
        }
        return new TokenBatch(ids, mask, Count, length);
    }
}

/// <summary>
/// The T5 tokenizer exactly as Hugging Face's T5TokenizerFast (converted from spiece.model) runs it with
/// padding="max_length", truncation=True, add_special_tokens=True: typed special strings become their ids,
/// each stretch between them is normalized (precompiled charsmap, trailing whitespace stripped, runs of spaces
/// folded), split into ▁-words, and each word is segmented by Unigram Viterbi with Hugging Face's tie-breaking.
/// See docs/t5.md §6.
/// </summary>
public sealed class T5Tokenizer
{
    const char Meta = '\u2581';
    const double UnknownPenalty = 10.0;

    readonly CharsMap? _charsMap;
    readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    readonly HashSet<string> _prefixes = new(StringComparer.Ordinal);
    readonly double[] _scores;
    readonly string[] _specials;     // added special tokens, matched in the raw text
    readonly double _unknownScore;

    public int PadId { get; }
    public int EosId { get; }
    public int UnkId { get; }
    public int VocabSize => _scores.Length;

    /// <summary>Builds the tokenizer from a SentencePiece Unigram model plus <paramref name="extraIds"/>
    /// sentinels &lt;extra_id_N&gt; (id = pieces + extraIds − 1 − N), as transformers' T5 converter does.</summary>
    public T5Tokenizer(SentencePieceModel model, int extraIds = 100)
    {
        if (model.ModelType != 1) throw new InvalidDataException($"spiece model type {model.ModelType}: the T5 tokenizer needs a Unigram model (type 1)");
        int n = model.Pieces.Count;
        if (n == 0) throw new InvalidDataException("spiece model has no pieces");
        string PieceAt(int id, string what) => id >= 0 && id < n ? model.Pieces[id].Text
            : throw new InvalidDataException($"spiece model: {what} id {id} is not a piece id (0..{n - 1})");
        UnkId = model.UnkId;
        EosId = model.EosId;
        PadId = model.PadId;
        var vocab = model.Pieces.Select(p => (p.Text, (double)p.Score)).ToList();
        for (int i = extraIds - 1; i >= 0; i--) vocab.Add(($"<extra_id_{i}>", 0.0));
        _scores = new double[vocab.Count];
        double minScore = double.MaxValue;
        for (int id = 0; id < vocab.Count; id++)
        {
            var (text, score) = vocab[id];
            _ids[text] = id;     // a repeated piece maps to its last id, as in tokenizers
            _scores[id] = score;
            minScore = Math.Min(minScore, score);
            for (int k = 1; k <= text.Length; k++) _prefixes.Add(text[..k]);
        }
        _unknownScore = minScore - UnknownPenalty;
        var specials = new List<string> { PieceAt(PadId, "pad"), PieceAt(EosId, "eos"), PieceAt(UnkId, "unk") };
        for (int i = 0; i < extraIds; i++) specials.Add($"<extra_id_{i}>");
        _specials = specials.Where(s => s.Length > 0).Distinct().ToArray();
        _charsMap = model.PrecompiledCharsmap.Length > 0 ? new CharsMap(model.PrecompiledCharsmap) : null;
    }

    /// <summary>Reads DIR/spiece.model.</summary>
    public static T5Tokenizer FromFolder(string folder)
    {
        string path = Path.Combine(folder, "spiece.model");
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer folder {folder}: no spiece.model", path);
        return new T5Tokenizer(SentencePieceModel.Read(path));
    }

    /// <summary>The content ids of a text (no EOS, no padding).</summary>
    public List<int> Encode(string text)
    {
        text = ReplaceLoneSurrogates(text);
        var ids = new List<int>();
        int stretchStart = 0, i = 0;
        while (i < text.Length)
        {
            string? special = LongestSpecialAt(text, i);
            if (special is null) { i++; continue; }
            EncodeStretch(text[stretchStart..i], ids);
            ids.Add(_ids[special]);
            i += special.Length;
            stretchStart = i;
        }
        EncodeStretch(text[stretchStart..], ids);
        return ids;
    }

    /// <summary>The longest token sequence this tokenizer makes (the released model uses 200): a bound on what a
    /// command line or model_index.json may ask for, checked before anything is allocated.</summary>
    public const int MaxTokens = 4096;

    /// <summary>The most tokens one batch may hold (texts × max length), so a prompt list of millions of empty strings
    /// is refused before its id and mask arrays are allocated.</summary>
    public const long MaxBatchTokens = 1L << 24;

    /// <summary>ids = content cut to maxLength − 1, then EOS, then pad; mask 1 on content and EOS.</summary>
    public TokenBatch EncodeBatch(IReadOnlyList<string> texts, int maxLength)
    {
        if (maxLength < 1 || maxLength > MaxTokens) throw new ArgumentException($"max length must be between 1 (room for </s>) and {MaxTokens}, got {maxLength}");
        if ((long)texts.Count * maxLength > MaxBatchTokens)
            throw new ArgumentException($"{texts.Count} texts × max length {maxLength} = {(long)texts.Count * maxLength} tokens, more than the {MaxBatchTokens} one batch may hold");
        var ids = new long[texts.Count * maxLength];
        var mask = new long[texts.Count * maxLength];
        for (int row = 0; row < texts.Count; row++)
        {
            var content = Encode(texts[row]);
            int keep = Math.Min(content.Count, maxLength - 1);
            int o = row * maxLength;
            for (int t = 0; t < keep; t++) { ids[o + t] = content[t]; mask[o + t] = 1; }
            ids[o + keep] = EosId;
            mask[o + keep] = 1;
            for (int t = keep + 1; t < maxLength; t++) ids[o + t] = PadId;
        }
        return new TokenBatch(ids, mask, texts.Count, maxLength);
    }

    string? LongestSpecialAt(string text, int i)
    {
        if (text[i] != '<') return null;   // every special string starts with '<'
        string? best = null;
        foreach (var s in _specials)
            if ((best is null || s.Length > best.Length) && string.CompareOrdinal(text, i, s, 0, s.Length) == 0 && i + s.Length <= text.Length)
                best = s;
        return best;
    }

    void EncodeStretch(string stretch, List<int> ids)
    {
        string text = _charsMap?.Normalize(stretch) ?? stretch;
        text = text.TrimEnd();
        text = FoldSpaceRuns(text).Replace(' ', Meta);
        if (text.Length == 0) return;
        if (text[0] != Meta) text = Meta + text;
        // Words: every ▁ starts a new word.
        int start = 0;
        for (int i = 1; i <= text.Length; i++)
            if (i == text.Length || text[i] == Meta)
            {
                Viterbi(text[start..i], ids);
                start = i;
            }
    }

    /// <summary>Runs of two or more ASCII spaces become one ▁ (the converter's Replace(" {2,}", "▁")).</summary>
    static string FoldSpaceRuns(string s)
    {
        if (!s.Contains("  ")) return s;
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length;)
        {
            int j = i;
            while (j < s.Length && s[j] == ' ') j++;
            if (j - i >= 2) { sb.Append(Meta); i = j; }
            else { sb.Append(s[i]); i++; }
        }
        return sb.ToString();
    }

    /// <summary>Best segmentation of one word (tokenizers' Unigram encode_optimized): float64 path scores,
    /// candidates by increasing length, replace only on a strictly greater score, a one-character unknown
    /// candidate where no one-character piece exists, consecutive unknowns fused into one &lt;unk&gt;.</summary>
    void Viterbi(string word, List<int> ids)
    {
        int n = word.Length;
        var bestScore = new double[n + 1];
        var bestStart = new int[n + 1];
        var bestId = new int[n + 1];
        Array.Fill(bestStart, -1);
        for (int start = 0; start < n; start = NextChar(word, start))
        {
            if (start > 0 && bestStart[start] < 0) continue;   // unreachable (cannot happen: unknowns cover every char)
            double here = bestScore[start];
            int charEnd = NextChar(word, start);
            bool hasSingle = false;
            for (int end = charEnd; end <= n; end = NextChar(word, end))
            {
                string candidate = word[start..end];
                if (!_prefixes.Contains(candidate)) break;
                if (_ids.TryGetValue(candidate, out int id))
                {
                    double score = here + _scores[id];
                    if (bestStart[end] < 0 || score > bestScore[end]) { bestScore[end] = score; bestStart[end] = start; bestId[end] = id; }
                    if (end == charEnd) hasSingle = true;
                }
                if (end == n) break;
            }
            if (!hasSingle)
            {
                double score = here + _unknownScore;
                if (bestStart[charEnd] < 0 || score > bestScore[charEnd]) { bestScore[charEnd] = score; bestStart[charEnd] = start; bestId[charEnd] = UnkId; }
            }
        }
        // Backtrack; a run of unknown nodes becomes one token (looked up as a string, else <unk>).
        var pieces = new List<(int start, int end, int id)>();
        for (int end = n; end > 0; end = bestStart[end]) pieces.Add((bestStart[end], end, bestId[end]));
        pieces.Reverse();
        for (int k = 0; k < pieces.Count; k++)
        {
            if (pieces[k].id != UnkId) { ids.Add(pieces[k].id); continue; }
            int s = pieces[k].start;
            while (k + 1 < pieces.Count && pieces[k + 1].id == UnkId) k++;
            ids.Add(_ids.TryGetValue(word[s..pieces[k].end], out int id) ? id : UnkId);
        }
    }

    static int NextChar(string s, int i) => i + (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1);

    static string ReplaceLoneSurrogates(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
            if (char.IsSurrogate(s[i])) return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));
        }
        return s;
    }
}
