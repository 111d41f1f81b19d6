using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace T2X.Vulkan.Text;

/// <summary>
/// SentencePiece's precompiled normalization rules (normalizer_spec.precompiled_charsmap), applied the way the
/// Hugging Face tokenizers "Precompiled" normalizer applies them.
/// Format: [u32 trie size in bytes][Darts-clone double-array trie of u32 units][NUL-terminated replacement
/// strings]; the trie maps a UTF-8 key to the byte offset of its replacement.
/// </summary>
public sealed class CharsMap
{
    readonly uint[] _trie;
    readonly byte[] _replacements;

    public CharsMap(byte[] precompiled)
    {
        if (precompiled.Length < 4) throw new InvalidDataException("precompiled charsmap shorter than its 4-byte header");
        uint trieBytes = BinaryPrimitives.ReadUInt32LittleEndian(precompiled);
        if (trieBytes % 4 != 0 || trieBytes > precompiled.Length - 4)
            throw new InvalidDataException($"precompiled charsmap: trie size {trieBytes} does not fit in {precompiled.Length} bytes");
        _trie = new uint[trieBytes / 4];
        for (int i = 0; i < _trie.Length; i++) _trie[i] = BinaryPrimitives.ReadUInt32LittleEndian(precompiled.AsSpan(4 + 4 * i));
        _replacements = precompiled[(int)(4 + trieBytes)..];
    }

    static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);
    static uint Label(uint unit) => unit & ((1u << 31) | 0xFF);
    static bool HasLeaf(uint unit) => ((unit >> 8) & 1) == 1;
    static uint Value(uint unit) => unit & ((1u << 31) - 1);

    /// <summary>The replacement of the shortest key that is a prefix of <paramref name="key"/> (Darts
    /// commonPrefixSearch, first result), or null when no key is a prefix.</summary>
    string? ShortestPrefixReplacement(ReadOnlySpan<byte> key)
    {
        if (_trie.Length == 0) return null;
        uint pos = Offset(_trie[0]);
        foreach (byte c in key)
        {
            if (c == 0) break;
            pos ^= c;
            if (pos >= _trie.Length) return null;
            uint unit = _trie[pos];
            if (Label(unit) != c) return null;
            pos ^= Offset(unit);
            if (pos >= _trie.Length) return null;
            if (HasLeaf(unit))
            {
                int start = (int)Value(_trie[pos]);
                if (start >= _replacements.Length) return null;
                int end = Array.IndexOf(_replacements, (byte)0, start);
                return Encoding.UTF8.GetString(_replacements, start, (end < 0 ? _replacements.Length : end) - start);
            }
        }
        return null;
    }

    /// <summary>
    /// Normalizes text as tokenizers' Precompiled normalizer does: per extended grapheme cluster, a cluster of
    /// fewer than 6 UTF-8 bytes whose start matches a rule is replaced whole by that rule's output; otherwise each
    /// character is replaced by its own rule or kept.
    /// </summary>
    public string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        Span<byte> buffer = stackalloc byte[64];
        int i = 0;
        while (i < text.Length)
        {
            int len = StringInfo.GetNextTextElementLength(text.AsSpan(i));
            var grapheme = text.AsSpan(i, len);
            i += len;
            int bytes = Encoding.UTF8.GetByteCount(grapheme);
            if (bytes < 6)
            {
                int n = Encoding.UTF8.GetBytes(grapheme, buffer);
                var whole = ShortestPrefixReplacement(buffer[..n]);
                if (whole is not null) { sb.Append(whole); continue; }
            }
            int j = 0;
            while (j < grapheme.Length)
            {
                int charLen = char.IsHighSurrogate(grapheme[j]) && j + 1 < grapheme.Length && char.IsLowSurrogate(grapheme[j + 1]) ? 2 : 1;
                var ch = grapheme.Slice(j, charLen);
                j += charLen;
                int n = Encoding.UTF8.GetBytes(ch, buffer);
                var one = ShortestPrefixReplacement(buffer[..n]);
                sb.Append(one ?? ch.ToString());
            }
        }
        return sb.ToString();
    }
}
