using NUnit.Framework;
using T2X.Vulkan.Text;

namespace T2X.Tests.Text;

/// <summary>The caption cleaner on the examples of docs/t5.md §7 (verified with the official code) and on each step's pattern.</summary>
public sealed class CaptionCleanerTests
{
    [TestCase("A dog wearing virtual reality goggles in sunset, 4k, high resolution.", "a dog wearing virtual reality goggles in sunset, 4k, high resolution.")]
    [TestCase("photo 1024x1024 of a red fox #12 by @artist", "photo of a red fox by")]
    [TestCase("a <extra_id_0> cat </s>", "a cat")]
    [TestCase("free shipping worldwide free shipping", "")]
    [TestCase("café in Москва and ひらがな", "café in москва and ひらがな")]
    [TestCase("东京 tokyo 猫", "tokyo")]
    [TestCase("a cat, https://example.com/page?x=1", "a cat, ?x=1")]
    [TestCase("C++ code", "c code")]
    [TestCase("100%25", "100%")]
    [TestCase("well-known long-haired black-and-white cat", "well known long haired black and white cat")]
    [TestCase("well-known cat", "well-known cat")]
    [TestCase("\"curly\" and \"guillemets\"", "curly\" and \"guillemets")]
    [TestCase("“Smart” quotes ‘here’", "smart\" quotes 'here")]
    [TestCase("&lt;pad&gt; token", "<pad> token")]
    [TestCase("&lt;/s&gt;", "< s>")]
    [TestCase("<b>Bold</b> text", "bold text")]
    [TestCase("a,b.c", "a, b. c")]
    [TestCase("  Lots   of\t\nspace  ", "lots of space")]
    [TestCase("IMG_1234.jpg of a lake", "of a lake")]
    [TestCase("server 192.168.0.1 rack", "server rack")]
    [TestCase("id 1234567 and jc6640 x1y2z3 12ab34", "id and")]
    [TestCase("a—b–c", "a-b-c")]
    [TestCase("***SALE*** ~~~", "sale")]
    [TestCase("Title: subtitle", "title: subtitle")]
    [TestCase("ΣΟΦΟΣ İstanbul", "σοφος i\u0307stanbul")]
    [TestCase("ﬁne ＦＵＬＬ", "fine full")]
    [TestCase("click here for details, click on Link", "click here for details,")]
    [TestCase("page 12 of the book", "of the book")]
    [TestCase("'quoted'", "quoted")]
    [TestCase(".hidden", "")]
    [TestCase("", "")]
    public void CleansAsTheOfficialPipeline(string input, string expected)
    {
        Assert.That(CaptionCleaner.Clean(input), Is.EqualTo(expected));
    }

    [Test]
    public void NegativePromptIsOnlyLowerCasedAndStripped()
    {
        Assert.That(CaptionCleaner.LowerStrip("  Blurry, LOW quality <b> "), Is.EqualTo("blurry, low quality <b>"));
        Assert.That(CaptionCleaner.LowerStrip(""), Is.EqualTo(""));
    }
}
