using System.Text;

namespace T2X.Vulkan.Files;

/// <summary>How t2x names the images it writes into a folder (<c>t2x generate</c>, <c>t2x batch</c>).</summary>
public static class OutputNames
{
    /// <summary>A file-name part made from a prompt: lower-case ASCII letters and digits joined by '-', at most 60
    /// characters; a prompt without letters or digits ("", "  ", "!?") is named by a hash of it, so different ones do
    /// not collide.</summary>
    public static string Slug(string prompt)
    {
        var sb = new StringBuilder();
        foreach (char ch in prompt.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(ch)) sb.Append(ch);
            else if (sb.Length > 0 && sb[^1] != '-') sb.Append('-');
            if (sb.Length >= 60) break;
        }
        var slug = sb.ToString().Trim('-');
        return slug.Length > 0 ? slug : "t2x-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(prompt)))[..8].ToLowerInvariant();
    }
}
