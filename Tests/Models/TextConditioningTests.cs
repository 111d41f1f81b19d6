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
            Assert.That(text.Tokens.InputIds, Is.EqualTo(want.InputIds));
            Assert.That(text.Embeddings.Shape, Is.EqualTo(new long[] { 4, 16, c.DModel }));
            Assert.That(text.Mask.ToArray(), Is.EqualTo(Array.ConvertAll(want.AttentionMask, m => (float)m)));
            // Without encodePadding, the positions after the longest text's last token are zero; the rest as transformers has them.
            var reference = T5Reference.Forward(c, w, want.InputIds, want.AttentionMask, 4, 16);
            var got = text.Embeddings.ToArray();
            int used = encodePadding ? 16 : Enumerable.Range(0, 4).Max(r => want.Mask(r).ToArray().Count(m => m == 1));
            if (!encodePadding) Assert.That(used, Is.LessThan(16), "the texts leave padding to skip");
            for (int r = 0; r < 4; r++)
            {
                var tail = new Range((r * 16 + used) * c.DModel, (r + 1) * 16 * c.DModel);
                Assert.That(got[tail], Is.All.EqualTo(0f), $"row {r}: the padding after position {used}");
                reference.AsSpan(tail).Clear();
            }
            Check.Close(got, reference, 1e-5, "embeddings");
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
