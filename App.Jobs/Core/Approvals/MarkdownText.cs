using System.Globalization;
using System.Text;

namespace Ensemble.Jobs.Core.Approvals;

/// <summary>
/// Puts untrusted text (comment arguments, names from configuration) into GitHub Markdown as plain text:
/// nothing in it can become markup, HTML, an image, a code span, a table cell, a new line or a mention
/// (a bare <c>www.</c> address may still be auto-linked by GitHub, which is harmless).
/// </summary>
public static class MarkdownText
{
    /// <summary>Backslash-escapes ASCII punctuation (CommonMark allows it for all of them, and it stops <c>@</c> mentions
    /// and <c>https:</c> autolinks) except <c>. / - ,</c>, which mean nothing inline on one line; replaces control,
    /// format (zero-width, bidi overrides) and line-separator characters with U+FFFD; and cuts the result to <paramref name="maxChars"/> source characters with an ellipsis.</summary>
    public static string Escape(string text, int maxChars = 80)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(Math.Min(text.Length, maxChars) + 8);
        var taken = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (taken == maxChars)
            {
                sb.Append('…');
                break;
            }

            taken++;
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned)
            {
                sb.Append('\uFFFD');
                continue;
            }

            if (rune.IsAscii && char.IsAsciiLetterOrDigit((char)rune.Value) is false && rune.Value > ' ' && rune.Value is not ('.' or '/' or '-' or ','))
            {
                sb.Append('\\');
            }

            sb.Append(rune.ToString());
        }

        return sb.ToString();
    }

    /// <summary>A code span for text known to hold no backtick or line break (validated paths), else escaped text.</summary>
    public static string Code(string text) =>
        text.Length > 0 && text.AsSpan().IndexOfAny("`\r\n") < 0 && IsPrintableAscii(text) ? $"`{text}`" : Escape(text);

    private static bool IsPrintableAscii(string text)
    {
        foreach (var c in text)
        {
            if (c is < ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }
}
