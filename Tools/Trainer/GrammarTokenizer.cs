using T2X.Tools.DataGen;

namespace T2X.Trainer;

/// <summary>
/// The built-in model's vocabulary: the T5 specials &lt;pad&gt;=0, &lt;/s&gt;=1, &lt;unk&gt;=2, then "▁word" for every word
/// of the grammar. Every piece is a whole word with the "▁" prefix, so the SentencePiece Unigram model made from
/// this list (tokenizer/spiece.model) splits a prompt exactly at its spaces: this class gives the same ids as that
/// model for lower-case prompts, with &lt;/s&gt; appended and padding to the model's max_length (t5-encoder spec 6.5).
/// </summary>
public sealed class GrammarTokenizer(int maxLength)
{
    public const int Pad = 0, Eos = 1, Unk = 2;
    public static readonly string[] Pieces = ["<pad>", "</s>", "<unk>", .. Grammar.Words.Select(w => "\u2581" + w)];
    static readonly Dictionary<string, int> Ids = Grammar.Words.Select((w, i) => (w, i)).ToDictionary(p => p.w, p => p.i + 3);

    public int MaxLength => maxLength;

    /// <summary>Ids and mask (1 = token, 0 = padding) of one prompt.</summary>
    public (long[] Ids, float[] Mask) Encode(string prompt)
    {
        var words = prompt.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var ids = new long[maxLength];
        var mask = new float[maxLength];
        int n = Math.Min(words.Length, maxLength - 1);
        for (int i = 0; i < n; i++) ids[i] = Ids.TryGetValue(words[i], out int id) ? id : Unk;
        ids[n] = Eos;
        for (int i = 0; i <= n; i++) mask[i] = 1;
        return (ids, mask);
    }
}
