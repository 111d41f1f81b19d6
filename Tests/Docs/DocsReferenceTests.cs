using System.Text.RegularExpressions;
using NUnit.Framework;
using T2X.Tests.Weights;

namespace T2X.Tests.Docs;

/// <summary>
/// Every reference from the code to a specification resolves to a heading in docs/: "docs/ptdit.md §7.4" needs a
/// heading numbered 7.4 in docs/ptdit.md, "quirk V1" (or a bare Q7) a quirk heading with that id, and no comment
/// cites a specification outside the repository ("spec section 5", "shared/notes").
/// </summary>
public sealed class DocsReferenceTests
{
    static readonly string[] ScannedFolders = ["Engine", "Shaders", "Tests", "Tools", "Host", "docs"];
    static readonly string[] ScannedExtensions = [".cs", ".comp", ".glsl", ".py", ".sh", ".md", ".json", ".csproj", ".cmake"];

    static readonly Regex DocFile = new(@"docs/([A-Za-z0-9_-]+\.md)");
    // Inside docs/ the pages link to each other by bare name ("[t5.md §1](t5.md#…)").
    static readonly Regex SiblingPage = new(@"(?<![\w/.-])([A-Za-z0-9_-]+\.md)\b");
    static readonly Regex Section = new(@"§\s*(\d+(?:\.\d+)*)");
    static readonly Regex NamedQuirk = new(@"\bquirks?\s+([QTV]\d+)\b", RegexOptions.IgnoreCase);
    static readonly Regex BareQuirk = new(@"\bQ\d+\b");
    static readonly Regex Outside = new(@"shared/(?:spec|notes)|/work/|\bspec/|[\w-]+\.md\s+section\b", RegexOptions.IgnoreCase);
    static readonly Regex SpecWord = new(@"\bspecs?\b|\bsection\s+\d", RegexOptions.IgnoreCase);
    static readonly Regex Heading = new(@"^#{1,6}\s+(.*)$");
    static readonly Regex HeadingNumber = new(@"^(\d+(?:\.\d+)*)\.?\s");
    static readonly Regex HeadingQuirk = new(@"^([QTV]\d+)\.\s");

    /// <summary>The section numbers and quirk ids of one page.</summary>
    public sealed record Page(HashSet<string> Sections, HashSet<string> Quirks);

    /// <summary>Reads the numbered headings ("## 4.2 Position table") and quirk headings ("### Q2. …") of docs/*.md.</summary>
    public static Dictionary<string, Page> ReadDocs(string docsDir)
    {
        var pages = new Dictionary<string, Page>(StringComparer.Ordinal);
        foreach (var path in Directory.GetFiles(docsDir, "*.md"))
        {
            var page = new Page([], []);
            bool fenced = false;
            foreach (var line in File.ReadLines(path))
            {
                if (line.StartsWith("```", StringComparison.Ordinal)) fenced = !fenced;
                if (fenced) continue;
                var h = Heading.Match(line);
                if (!h.Success) continue;
                var n = HeadingNumber.Match(h.Groups[1].Value + " ");
                if (n.Success) page.Sections.Add(n.Groups[1].Value);
                var q = HeadingQuirk.Match(h.Groups[1].Value + " ");
                if (q.Success) page.Quirks.Add(q.Groups[1].Value);
            }
            pages[Path.GetFileName(path)] = page;
        }
        return pages;
    }

    /// <summary>The comment text of a source line (the whole line for markdown); null when it has none.</summary>
    public static string? CommentOf(string fileName, string line)
    {
        string ext = Path.GetExtension(fileName);
        if (ext == ".md") return line;
        if (ext is ".py" or ".sh" or ".cmake")
        {
            int hash = line.IndexOf('#');
            return hash < 0 ? null : line[hash..];
        }
        int slash = line.IndexOf("//", StringComparison.Ordinal);
        if (slash >= 0) return line[slash..];
        string t = line.TrimStart();
        if (t.StartsWith("/*", StringComparison.Ordinal) || t.StartsWith('*') || t.StartsWith("<!--", StringComparison.Ordinal)) return line;
        return null;
    }

    /// <summary>
    /// The problems of one line. <paramref name="ownPage"/> is the page the line belongs to when it is in docs/ (its
    /// bare § references mean that page); null for code, where every § must follow a docs/ file on the same line.
    /// </summary>
    public static List<string> Problems(string fileName, string line, Dictionary<string, Page> docs, string? ownPage = null)
    {
        var problems = new List<string>();
        // Citations of docs/ pages and their sections: each § belongs to the nearest page cited before it on the line.
        var cites = DocFile.Matches(line).Concat(ownPage is null ? [] : SiblingPage.Matches(line))
            .Select(m => (m.Index, file: m.Groups[1].Value)).OrderBy(c => c.Index).ToList();
        foreach (var (_, file) in cites)
            if (!docs.ContainsKey(file)) problems.Add($"docs/{file} does not exist");
        foreach (Match s in Section.Matches(line))
        {
            string? page = cites.LastOrDefault(c => c.Index < s.Index).file ?? ownPage;
            if (page is null) problems.Add($"'{s.Value}' does not say which docs/ page it means");
            else if (docs.TryGetValue(page, out var p) && !p.Sections.Contains(s.Groups[1].Value))
                problems.Add($"docs/{page} has no heading numbered {s.Groups[1].Value}");
        }
        // Quirk ids: "quirk T3" / "quirk V1" / "quirk Q7" or a bare Q7; the id must head a quirk section.
        foreach (Match q in NamedQuirk.Matches(line).Cast<Match>().Concat(BareQuirk.Matches(line)))
        {
            string id = q.Groups.Count > 1 && q.Groups[1].Success ? q.Groups[1].Value : q.Value;
            string? page = cites.LastOrDefault(c => c.Index < q.Index).file;
            bool found = page is not null && docs.TryGetValue(page, out var p) ? p.Quirks.Contains(id) : docs.Values.Any(d => d.Quirks.Contains(id));
            if (!found) problems.Add(page is null ? $"no page in docs/ has quirk {id}" : $"docs/{page} has no quirk {id}");
        }
        // References to documents outside the repository, and the old "spec section N" style.
        var comment = CommentOf(fileName, line);
        var outside = Outside.Match(line);
        if (outside.Success) problems.Add($"'{outside.Value}' points outside the repository's docs/");
        else if (comment is not null && ownPage is null)
        {
            var spec = SpecWord.Match(comment);
            if (spec.Success && !DocFile.IsMatch(comment)) problems.Add($"'{spec.Value}' cites a specification without a docs/ page");
        }
        return problems.Distinct().ToList();
    }

    static IEnumerable<string> SourceFiles(string root)
    {
        foreach (var folder in ScannedFolders)
            foreach (var path in Directory.EnumerateFiles(Path.Combine(root, folder), "*", SearchOption.AllDirectories))
            {
                string rel = Path.GetRelativePath(root, path).Replace('\\', '/');
                if (rel.Contains("/bin/") || rel.Contains("/obj/") || rel.StartsWith("Tests/Data/", StringComparison.Ordinal)) continue;
                if (rel == "Tests/Docs/DocsReferenceTests.cs") continue;   // its examples are wrong on purpose
                if (ScannedExtensions.Contains(Path.GetExtension(path))) yield return path;
            }
        yield return Path.Combine(root, "README.md");
    }

    [Test]
    public void EveryReferenceInTheSourceResolvesToADocsHeading()
    {
        string root = WeightFiles.RepoRoot();
        var docs = ReadDocs(Path.Combine(root, "docs"));
        Assert.That(docs.Keys, Is.SupersetOf(new[] { "README.md", "ptdit.md", "t5.md", "vae.md", "lavapipe.md", "adding-a-kernel.md" }));
        var problems = new List<string>();
        int citations = 0;
        foreach (var path in SourceFiles(root))
        {
            string rel = Path.GetRelativePath(root, path).Replace('\\', '/');
            string? ownPage = rel.StartsWith("docs/", StringComparison.Ordinal) ? Path.GetFileName(path) : null;
            int n = 0;
            foreach (var line in File.ReadLines(path))
            {
                n++;
                if (DocFile.IsMatch(line) || NamedQuirk.IsMatch(line)) citations++;
                foreach (var p in Problems(path, line, docs, ownPage)) problems.Add($"{rel}:{n}: {p}");
            }
        }
        Assert.That(problems, Is.Empty, string.Join("\n", problems));
        Assert.That(citations, Is.GreaterThan(50), "the scan found the code's citations of docs/");
    }

    [Test]
    public void EveryPageHasTheQuirksItNumbers()
    {
        var docs = ReadDocs(Path.Combine(WeightFiles.RepoRoot(), "docs"));
        Assert.That(docs["ptdit.md"].Quirks, Is.EquivalentTo(Enumerable.Range(1, 12).Select(i => $"Q{i}")));
        Assert.That(docs["t5.md"].Quirks, Is.EquivalentTo(Enumerable.Range(1, 10).Select(i => $"T{i}")));
        Assert.That(docs["vae.md"].Quirks, Is.EquivalentTo(Enumerable.Range(1, 10).Select(i => $"V{i}")));
        Assert.That(docs["ptdit.md"].Sections, Is.SupersetOf(new[] { "4.2", "5", "6", "7.4", "10.3", "13" }));
    }

    static Dictionary<string, Page> Sample() => new()
    {
        ["ptdit.md"] = new Page(["4", "4.2", "7"], ["Q1", "Q7"]),
        ["vae.md"] = new Page(["7.2"], ["V1"]),
    };

    [TestCase("x.cs", "    // the position table (docs/ptdit.md §4.2, quirk Q1)")]
    [TestCase("x.cs", "    // docs/ptdit.md §4 and §7; masks are −10000 (Q7)")]
    [TestCase("x.comp", "// official slice, docs/vae.md, quirk V1; blend as docs/vae.md §7.2")]
    [TestCase("x.cs", "    var (spec, perGroup) = AttentionSetup.Variant(gpu, variant, headDim);")]
    [TestCase("x.cs", "    public void KeysMatchTheSpecTable()")]
    [TestCase("x.py", "x = 1  # specialization constants")]
    public void AcceptsResolvableReferences(string file, string line) =>
        Assert.That(Problems(file, line, Sample()), Is.Empty);

    [TestCase("x.cs", "    // window-major order (spec section 5)", "cites a specification")]
    [TestCase("x.comp", "// shifted windows (spec 6)", "cites a specification")]
    [TestCase("x.cs", "    /// <summary>One block (section 7).</summary>", "cites a specification")]
    [TestCase("x.cs", "    // texel loads are cheapest (shared/notes: lavapipe)", "outside the repository")]
    [TestCase("x.cs", "    const string path = \"/work/shared/spec/keys.tsv\";", "outside the repository")]
    [TestCase("x.cs", "    // see spec/opensora-vae-decoder.md", "outside the repository")]
    [TestCase("x.cs", "    // docs/ptdit.md §9.9", "no heading numbered 9.9")]
    [TestCase("x.cs", "    // docs/nothing.md §1", "docs/nothing.md does not exist")]
    [TestCase("x.cs", "    // as in §4.2", "does not say which docs/ page")]
    [TestCase("x.cs", "    // batch mapping (Q13)", "no page in docs/ has quirk Q13")]
    [TestCase("x.cs", "    // docs/vae.md, quirk V2", "docs/vae.md has no quirk V2")]
    [TestCase("x.cs", "    // docs/ptdit.md, quirk V1", "docs/ptdit.md has no quirk V1")]
    public void RejectsReferencesThatDoNotResolve(string file, string line, string expected) =>
        Assert.That(Problems(file, line, Sample()), Has.Some.Contains(expected));
}
