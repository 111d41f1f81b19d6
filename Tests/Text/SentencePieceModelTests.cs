using NUnit.Framework;
using T2X.Vulkan.Text;

namespace T2X.Tests.Text;

public sealed class SentencePieceModelTests
{
    static readonly string ModelPath = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "t5", "spiece.model");

    [Test]
    public void ReadsTheTrainedModel()
    {
        var m = SentencePieceModel.Read(ModelPath);
        Assert.That(m.Pieces, Has.Count.EqualTo(400));
        Assert.That(m.Pieces.Take(3).Select(p => (p.Text, p.Type)), Is.EqualTo(new[] { ("<pad>", PieceType.Control), ("</s>", PieceType.Control), ("<unk>", PieceType.Unknown) }));
        Assert.That((m.ModelType, m.VocabSize, m.PadId, m.EosId, m.UnkId, m.BosId), Is.EqualTo((1, 400, 0, 1, 2, -1)));
        Assert.That(m.NormalizerName, Is.EqualTo("nmt_nfkc"));
        Assert.That(m.PrecompiledCharsmap.Length, Is.GreaterThan(100_000));
        Assert.That(m.Pieces.Skip(3).All(p => p.Score < 0 && p.Type == PieceType.Normal), Is.True);
    }

    [Test]
    public void WriteThenReadKeepsEverything()
    {
        var m = SentencePieceModel.Read(ModelPath);
        m.Pieces.Add(new Piece("▁zz", -3.5f));
        m.Pieces[5] = m.Pieces[5] with { Type = PieceType.UserDefined };
        m.PadId = 7;
        m.AddDummyPrefix = false;
        string path = Path.Combine(Path.GetTempPath(), $"t2x-spm-{Guid.NewGuid():N}.model");
        try
        {
            m.Write(path);
            var r = SentencePieceModel.Read(path);
            Assert.That(r.Pieces, Is.EqualTo(m.Pieces));
            Assert.That((r.PadId, r.AddDummyPrefix, r.BosId), Is.EqualTo((7, false, -1)));
            Assert.That(r.PrecompiledCharsmap, Is.EqualTo(m.PrecompiledCharsmap));
            Assert.That(r.ToBytes(), Is.EqualTo(m.ToBytes()), "unknown fields survive a round trip");
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void RejectsGarbage()
    {
        Assert.Throws<InvalidDataException>(() => SentencePieceModel.Parse([0x0A, 0xFF]));
        Assert.Throws<InvalidDataException>(() => SentencePieceModel.Parse([0x00, 0x01]));
        Assert.Throws<InvalidDataException>(() => new CharsMap([1, 0, 0, 0]));
    }
}
