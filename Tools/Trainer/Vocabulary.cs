using T2X.DataGen;
using T2X.Vulkan.Text;

namespace T2X.Trainer;

/// <summary>
/// The built-in model's vocabulary: the T5 specials &lt;pad&gt;=0, &lt;/s&gt;=1, &lt;unk&gt;=2, then "▁word" for every word
/// of the grammar, as a SentencePiece Unigram model (tokenizer/spiece.model). Every piece is a whole word with the
/// "▁" prefix, so a cleaned prompt is split exactly at its spaces; any other word becomes &lt;unk&gt;.
/// </summary>
public static class Vocabulary
{
    public const int Pad = 0, Eos = 1, Unk = 2;
    public static readonly string[] Pieces = ["<pad>", "</s>", "<unk>", .. Grammar.Words.Select(w => "\u2581" + w)];

    /// <summary>Embedding rows trained: the pieces, rounded up to a multiple of 8.</summary>
    public static int TrainedRows => (Pieces.Length + 7) / 8 * 8;

    /// <summary>Embedding rows as T5 files have them: the pieces plus the 100 sentinels &lt;extra_id_N&gt; that a T5
    /// tokenizer appends, rounded up to a multiple of 128 (32128 in the release). Rows past the trained ones are
    /// zero: no cleaned prompt produces a sentinel.</summary>
    public static int ExportedRows => (Pieces.Length + 100 + 127) / 128 * 128;

    /// <summary>The pieces as a SentencePiece Unigram model, all words equally likely; no normalization rules beyond
    /// whitespace handling (the pipeline's caption cleaning lower-cases prompts).</summary>
    public static SentencePieceModel SentencePiece()
    {
        var spm = new SentencePieceModel
        {
            ModelType = 1, VocabSize = Pieces.Length, UnkId = Unk, BosId = -1, EosId = Eos, PadId = Pad,
            NormalizerName = "identity",
        };
        for (int i = 0; i < Pieces.Length; i++)
            spm.Pieces.Add(new Piece(Pieces[i], i < 3 ? 0f : -1f, i == Unk ? PieceType.Unknown : i < 3 ? PieceType.Control : PieceType.Normal));
        return spm;
    }
}
