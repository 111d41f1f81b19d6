using NUnit.Framework;
using T2X.Tests.Reference;
using T2X.Vulkan;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Text;
using static T2X.Tests.Models.T5TestModel;

namespace T2X.Tests.Models;

public sealed class TextConditioningTests : GpuTest
{
    static readonly string SpieceModel = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "t5", "spiece.model");

    [TestCase(true, false)]
    [TestCase(false, false)]
    [TestCase(false, true)]
    public void EncodesPromptsThenNegativePromptsInOneBatch(bool release, bool encodePadding)
    {
        string dir = Path.Combine(Path.GetTempPath(), "t2x-cond-" + Guid.NewGuid().ToString("N"));
        try
        {
            var c = Tiny(layers: 1) with { VocabSize = 500 };
            var w = RandomWeights(c, DType.F32, new Random(31));
            WriteFolder(dir, c, w);
            var tokenizer = new T5Tokenizer(SentencePieceModel.Read(SpieceModel));
            using var encoder = T5Encoder.Load(Gpu, dir);
            string[] prompts = ["A RED fox, #12 by @artist", "café in Москва"];
            using var text = TextConditioning.Encode(tokenizer, encoder, prompts, negativePrompt: "  Blurry ", maxLength: 16, releaseEncoder: release,
                encodePadding: encodePadding);

            Assert.That(text.Texts, Is.EqualTo(new[] { "a red fox, by", "café in москва", "blurry", "blurry" }));
            var want = tokenizer.EncodeBatch(text.Texts, 16);
            // Without encodePadding the batch is cut after its longest text's last token.
            if (!encodePadding) want = want.Prefix(want.RealLength);
            Assert.That(text.Length, Is.EqualTo(want.MaxLength));
            if (!encodePadding) Assert.That(text.Length, Is.LessThan(16), "the texts leave padding to cut");
            Assert.That(text.Tokens.InputIds, Is.EqualTo(want.InputIds));
            Assert.That(text.Embeddings.Shape, Is.EqualTo(new long[] { 4, text.Length, c.DModel }));
            Assert.That(text.Mask.ToArray(), Is.EqualTo(Array.ConvertAll(want.AttentionMask, m => (float)m)));
            Check.Close(text.Embeddings.ToArray(), T5Reference.Forward(c, w, want.InputIds, want.AttentionMask, 4, text.Length), 1e-5, "embeddings");
            Assert.That(encoder.WeightBytes == 0, Is.EqualTo(release));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Test]
    public void CleaningCanBeSwitchedOff()
    {
        Assert.That(TextConditioning.PrepareTexts(["A <b>Cat</b>"], "Neg", cleanCaption: false), Is.EqualTo(new[] { "A <b>Cat</b>", "Neg" }));
        Assert.That(TextConditioning.PrepareTexts(["A <b>Cat</b>"], "Neg", cleanCaption: true), Is.EqualTo(new[] { "a cat", "neg" }));
    }

    [Test]
    public void RejectsAnUnsupportedActivation()
    {
        string dir = Path.Combine(Path.GetTempPath(), "t2x-cond-" + Guid.NewGuid().ToString("N"));
        try
        {
            var c = Tiny(layers: 1) with { DenseActFn = "gelu", FeedForwardProj = "gated-gelu" };
            var w = RandomWeights(c, DType.F32, new Random(32));
            WriteFolder(dir, c, w);
            Assert.That(Assert.Throws<NotSupportedException>(() => T5Encoder.Load(Gpu, dir))!.Message, Does.Contain("'gelu'"));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
