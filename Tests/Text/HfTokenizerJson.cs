using System.Text.Json.Nodes;
using T2X.Vulkan.Text;

namespace T2X.Tests.Text;

/// <summary>
/// Builds the tokenizer.json that transformers' T5Converter (convert_slow_tokenizer.py, SpmConverter) produces
/// from a spiece.model, so the Hugging Face tokenizers library can serve as the test oracle:
/// added special tokens, Precompiled + Strip(right) + Replace(" {2,}" → "▁") normalizer, Metaspace
/// (prepend "always"), Unigram over the pieces plus the sentinels in reverse order, "$A &lt;/s&gt;" template.
/// Sentinels are added without lstrip/rstrip, as transformers registers them when a folder's added_tokens.json
/// lists them (the released tokenizer folder has one); with lstrip/rstrip a whitespace character that forms one
/// grapheme with a following combining mark next to a typed sentinel is absorbed instead of normalized.
/// </summary>
public static class HfTokenizerJson
{
    public static string Build(SentencePieceModel model, int extraIds = 100, bool sentinelsStripSpaces = false)
    {
        var vocab = new JsonArray();
        foreach (var p in model.Pieces) vocab.Add(new JsonArray(p.Text, (double)p.Score));
        for (int i = extraIds - 1; i >= 0; i--) vocab.Add(new JsonArray($"<extra_id_{i}>", 0.0));
        int n = model.Pieces.Count;

        var added = new JsonArray();
        void Add(int id, string content, bool strip) => added.Add(new JsonObject
        {
            ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = strip, ["rstrip"] = strip,
            ["normalized"] = false, ["special"] = true,
        });
        foreach (var id in new[] { model.PadId, model.EosId, model.UnkId }.Order()) Add(id, model.Pieces[id].Text, false);
        for (int i = extraIds - 1; i >= 0; i--) Add(n + extraIds - 1 - i, $"<extra_id_{i}>", sentinelsStripSpaces);

        string eos = model.Pieces[model.EosId].Text;
        var normalizers = new JsonArray();
        if (model.PrecompiledCharsmap.Length > 0)
            normalizers.Add(new JsonObject { ["type"] = "Precompiled", ["precompiled_charsmap"] = Convert.ToBase64String(model.PrecompiledCharsmap) });
        normalizers.Add(new JsonObject { ["type"] = "Strip", ["strip_left"] = false, ["strip_right"] = true });
        normalizers.Add(new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["Regex"] = " {2,}" }, ["content"] = "\u2581" });
        var metaspace = () => new JsonObject { ["type"] = "Metaspace", ["replacement"] = "\u2581", ["prepend_scheme"] = "always", ["split"] = true };
        JsonObject Seq(string id) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = 0 } };
        JsonObject Special() => new() { ["SpecialToken"] = new JsonObject { ["id"] = eos, ["type_id"] = 0 } };
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "Sequence", ["normalizers"] = normalizers },
            ["pre_tokenizer"] = metaspace(),
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Seq("A"), Special()),
                ["pair"] = new JsonArray(Seq("A"), Special(), Seq("B"), Special()),
                ["special_tokens"] = new JsonObject { [eos] = new JsonObject { ["id"] = eos, ["ids"] = new JsonArray(model.EosId), ["tokens"] = new JsonArray(eos) } },
            },
            ["decoder"] = metaspace(),
            ["model"] = new JsonObject { ["type"] = "Unigram", ["unk_id"] = model.UnkId, ["vocab"] = vocab, ["byte_fallback"] = false },
        };
        return json.ToJsonString();
    }
}
