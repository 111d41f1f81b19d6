using System.Text;
using NUnit.Framework;
using T2X.Vulkan.Text;

namespace T2X.Tests.Text;

/// <summary>
/// The C# T5 tokenizer against the Hugging Face tokenizers library (Rust, through Tokenizers.DotNet) loaded
/// with the tokenizer.json that transformers' T5 converter builds from the same spiece.model.
/// The spiece.model is a small nmt_nfkc Unigram model trained for these tests (Tools/T5/make-test-spiece.py);
/// variants of it (tied scores, no charsmap) are written with SentencePieceModel.Write.
/// </summary>
public sealed class T5TokenizerTests
{
    static readonly string ModelPath = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "t5", "spiece.model");

    static SentencePieceModel LoadModel() => SentencePieceModel.Read(ModelPath);

    /// <summary>Our ids + EOS and the oracle's ids for every text; returns the texts that differ.</summary>
    static List<string> Mismatches(SentencePieceModel model, IEnumerable<string> texts, int extraIds = 100)
    {
        string dir = Path.Combine(Path.GetTempPath(), "t2x-t5tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string json = Path.Combine(dir, "tokenizer.json");
            File.WriteAllText(json, HfTokenizerJson.Build(model, extraIds));
            var oracle = new Tokenizers.DotNet.Tokenizer(vocabPath: json);
            var ours = new T5Tokenizer(model, extraIds);
            var bad = new List<string>();
            foreach (var text in texts)
            {
                var want = oracle.Encode(text).Select(x => (int)x).ToList();
                var got = ours.Encode(text);
                got.Add(ours.EosId);
                if (!got.SequenceEqual(want))
                    bad.Add($"{Escape(text)}\n    ours [{string.Join(",", got)}]\n    HF   [{string.Join(",", want)}]");
            }
            return bad;
        }
        finally { Directory.Delete(dir, true); }
    }

    static string Escape(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var r in s.EnumerateRunes())
            sb.Append(r.Value is >= 0x20 and < 0x7F ? r.ToString() : $"\\u{{{r.Value:X}}}");
        return sb.Append('"').ToString();
    }

    static readonly string[] Adversarial =
    [
        "", " ", "   ", "\t\n", "a", "A dog wearing virtual reality goggles in sunset, 4k, high resolution.",
        "  leading and trailing  ", "inner   runs    of spaces", "tab\tand\nnewline\r\nend", "a\u00A0b\u3000c\u2028d",
        "ＡＢＣ１２３ full width", "ﬁne ligature", "① circled ½ half ⅓", "café naïve résumé", "cafe\u0301 combining",
        "e\u0301\u0302\u0303\u0304 many marks", "москва кот", "東京 猫 犬", "ひらがな カタカナ ｶﾀｶﾅ", "한국어 텍스트",
        "שלום مرحبا", "emoji 😀 🐱‍👤 👍🏽 🇯🇵 👨‍👩‍👧", "zero\u200Bwidth\u200Djoiner\uFEFFbom", "soft\u00ADhyphen",
        "control\u0001\u0007\u001Fchars\u007F", "nul\u0000inside", "▁already ▁meta▁", "▁", "▁▁x",
        "1,000 ,000 10,000 3.14 100%", "....!!!???", "\"quoted\" 'single'",
        "</s>", "<pad>", "<unk>", "a <extra_id_0> b", "<extra_id_99><extra_id_10><extra_id_1>", "<extra_id_100>",
        "x</s>", "ends with </s>", "<pad> <pad>", "  <unk>  ", "＜/s＞ full width", "＜pad＞", "<extra_id_0", "<</s>>",
        "<extra_id_5>text<extra_id_6> more", "\u2160 roman numeral", "Ⅻ ㍱ ㌔", "ℌ𝔢𝔩𝔩𝔬 math", "x²³ ₁₂",
        "ǅ title case ĳ", "Ｈｅｌｌｏ　Ｗｏｒｌｄ", "a\u0300\u0301\u0302\u0303\u0304\u0305b",
        "\u1100\u1161\u11A8 jamo", "ก่ำ thai", "हिन्दी", "\r\r\r", "\u0085next line", "a\u2029b",
    ];

    static IEnumerable<string> RandomTexts(int seed, int count)
    {
        var rng = new Random(seed);
        string[] pool =
        [
            "a", "dog", "cat", "red", "fox", " ", " ", "  ", "\t", "\n", ".", ",", "!", "?", "-", "'", "\"", "(", ")",
            "0", "1", "2", "9", "1,000", "é", "ü", "ß", "ñ", "\u0301", "\u0308", "м", "о", "к", "в", "а", "東", "京",
            "猫", "ひ", "カ", "ｶ", "한", "😀", "👍", "🏽", "\u200D", "\u200B", "\uFEFF", "\u00A0", "\u3000", "Ａ", "１",
            "ﬁ", "①", "½", "\u0001", "\u007F", "▁", "<", ">", "/", "s", "</s>", "<pad>", "<unk>", "<extra_id_3>",
            "<extra_id_", "＜", "＞", "CAT", "Dog", "wearing", "goggles", "sunset", "resolution", "café", "москва",
            "The", "THE", "…", "—", "“", "”", "™", "©", "ǅ", "ĳ", "Ⅻ", "㍱", "ℌ", "²", "\u0E01", "\u0E48",
        ];
        for (int i = 0; i < count; i++)
        {
            int n = rng.Next(0, 25);
            var sb = new StringBuilder();
            for (int k = 0; k < n; k++)
            {
                if (rng.NextDouble() < 0.1) sb.Append((char)rng.Next(0x20, 0x7F));
                else if (rng.NextDouble() < 0.05) sb.Append(char.ConvertFromUtf32(rng.Next(0xA0, 0x3000)));
                else sb.Append(pool[rng.Next(pool.Length)]);
            }
            yield return sb.ToString();
        }
    }

    [Test]
    public void MatchesHuggingFaceOnAdversarialTexts()
    {
        var bad = Mismatches(LoadModel(), Adversarial);
        Assert.That(bad, Is.Empty, string.Join("\n", bad.Take(10)));
    }

    [Test]
    public void MatchesHuggingFaceOnRandomTexts()
    {
        var bad = Mismatches(LoadModel(), RandomTexts(seed: Environment.TickCount, count: 1500));
        Assert.That(bad, Is.Empty, $"{bad.Count} of 1500 differ:\n" + string.Join("\n", bad.Take(10)));
    }

    /// <summary>Scores rounded to a few values make exact Viterbi ties common: tie-breaking must match HF.</summary>
    [Test]
    public void MatchesHuggingFaceWithTiedScores()
    {
        var model = LoadModel();
        var tied = model.Pieces.Select(p => p with { Score = p.Type == PieceType.Normal ? MathF.Round(p.Score / 4) * 4 : p.Score }).ToList();
        model.Pieces.Clear();
        model.Pieces.AddRange(tied);
        var reread = SentencePieceModel.Parse(model.ToBytes());
        var bad = Mismatches(reread, Adversarial.Concat(RandomTexts(seed: 7, count: 700)));
        Assert.That(bad, Is.Empty, string.Join("\n", bad.Take(10)));
    }

    /// <summary>Equal scores everywhere: every segmentation with the same number of pieces ties.</summary>
    [Test]
    public void MatchesHuggingFaceWithAllScoresEqual()
    {
        var model = LoadModel();
        var flat = model.Pieces.Select(p => p with { Score = p.Type == PieceType.Normal ? -1f : p.Score }).ToList();
        model.Pieces.Clear();
        model.Pieces.AddRange(flat);
        var bad = Mismatches(SentencePieceModel.Parse(model.ToBytes()), Adversarial.Concat(RandomTexts(seed: 8, count: 500)));
        Assert.That(bad, Is.Empty, string.Join("\n", bad.Take(10)));
    }

    [Test]
    public void MatchesHuggingFaceWithoutCharsmapAndFewSentinels()
    {
        var model = LoadModel();
        model.PrecompiledCharsmap = [];
        var bad = Mismatches(SentencePieceModel.Parse(model.ToBytes()), Adversarial.Concat(RandomTexts(seed: 9, count: 300)), extraIds: 3);
        Assert.That(bad, Is.Empty, string.Join("\n", bad.Take(10)));
    }

    [Test]
    public void PadsTruncatesAndMasks()
    {
        var tok = new T5Tokenizer(LoadModel());
        string longText = string.Join(" ", Enumerable.Repeat("a red fox and a cat", 40));
        var content = tok.Encode(longText);
        Assert.That(content, Has.Count.GreaterThan(40));
        var batch = tok.EncodeBatch(["", longText, "dog"], 32);
        Assert.That(batch.Ids(0)[0], Is.EqualTo(1));
        Assert.That(batch.Ids(0)[1..].ToArray(), Is.All.EqualTo(0));
        Assert.That(batch.Mask(0).ToArray(), Is.EqualTo(new long[] { 1 }.Concat(new long[31]).ToArray()));
        Assert.That(batch.Ids(1)[..31].ToArray(), Is.EqualTo(content.Take(31).Select(x => (long)x).ToArray()));
        Assert.That(batch.Ids(1)[31], Is.EqualTo(1), "EOS kept at the last position");
        Assert.That(batch.Mask(1).ToArray(), Is.All.EqualTo(1));
        var dog = tok.Encode("dog");
        Assert.That(batch.Ids(2)[..(dog.Count + 1)].ToArray(), Is.EqualTo(dog.Select(x => (long)x).Append(1).ToArray()));
        Assert.That(batch.Mask(2).ToArray().Sum(), Is.EqualTo(dog.Count + 1));
        Assert.Throws<ArgumentException>(() => tok.EncodeBatch(["x"], 0));
    }

    [Test]
    public void RealLengthAndPrefixCutTheTrailingPadding()
    {
        var tok = new T5Tokenizer(LoadModel());
        var batch = tok.EncodeBatch(["", "a red fox", "dog"], 16);
        int fox = tok.Encode("a red fox").Count + 1;
        Assert.That(batch.RealLength, Is.EqualTo(fox), "the longest row's tokens and its EOS");
        var cut = batch.Prefix(batch.RealLength);
        Assert.That((cut.Count, cut.MaxLength), Is.EqualTo((3, fox)));
        for (int row = 0; row < 3; row++)
        {
            Assert.That(cut.Ids(row).ToArray(), Is.EqualTo(batch.Ids(row)[..fox].ToArray()));
            Assert.That(cut.Mask(row).ToArray(), Is.EqualTo(batch.Mask(row)[..fox].ToArray()));
            Assert.That(batch.Mask(row)[fox..].ToArray(), Is.All.EqualTo(0), "only padding was cut");
        }
        Assert.That(tok.EncodeBatch(["", ""], 8).RealLength, Is.EqualTo(1), "the empty text keeps its EOS");
        var noToken = new TokenBatch([1, 5, 0, 0], [1, 1, 0, 0], 2, 2);
        Assert.That(noToken.RealLength, Is.EqualTo(2), "a row without any real token keeps every position");
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Prefix(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Prefix(17));
    }

    [Test]
    public void SpecialStringsAndSentinelIds()
    {
        var tok = new T5Tokenizer(LoadModel());
        int pieces = LoadModel().Pieces.Count;
        Assert.That(tok.Encode("</s>"), Is.EqualTo(new[] { 1 }));
        Assert.That(tok.Encode("<pad><unk>"), Is.EqualTo(new[] { 0, 2 }));
        Assert.That(tok.Encode("<extra_id_0>"), Is.EqualTo(new[] { pieces + 99 }));
        Assert.That(tok.Encode("<extra_id_99>"), Is.EqualTo(new[] { pieces }));
        Assert.That(tok.VocabSize, Is.EqualTo(pieces + 100));
    }
}
