using System.Net;
using System.Text;
using Markdig;
using Markdig.Syntax;

namespace Ensemble.Jobs.Plans;

/// <summary>Escaping and block checks for the Markdown that check runs show.</summary>
internal static class Markdown
{
    /// <summary>An inline code span that holds any text literally (backticks, <c>&lt;</c>, <c>|</c>, newlines).</summary>
    public static string Code(string text)
    {
        var oneLine = text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
        var ticks = new string('`', LongestRun(oneLine, '`') + 1);
        var pad = oneLine.StartsWith('`') || oneLine.EndsWith('`') || oneLine.StartsWith(' ') ? " " : "";
        return ticks + pad + oneLine + pad + ticks;
    }

    /// <summary>Text for an HTML context such as <c>&lt;summary&gt;</c>, where Markdown is not parsed.</summary>
    public static string Html(string text) =>
        WebUtility.HtmlEncode(text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal));

    /// <summary>A fenced code block whose fence is longer than any backtick run inside, so content cannot close it.</summary>
    public static string Fence(string content, string info = "")
    {
        var fence = new string('`', Math.Max(3, LongestRun(content, '`') + 1));
        var body = content.EndsWith('\n') ? content : content + "\n";
        return $"{fence}{info}\n{body}{fence}";
    }

    private static int LongestRun(string text, char c)
    {
        int longest = 0, current = 0;
        foreach (var ch in text)
        {
            current = ch == c ? current + 1 : 0;
            longest = Math.Max(longest, current);
        }

        return longest;
    }

    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    /// <summary>
    /// Structural problems a cut could cause: unclosed code fences and unbalanced <c>&lt;details&gt;</c>.
    /// Empty when the Markdown is whole.
    /// </summary>
    public static IReadOnlyList<string> StructureProblems(string markdown)
    {
        var problems = new List<string>();
        var document = Markdig.Markdown.Parse(markdown, Pipeline);
        var depth = 0;
        foreach (var block in document.Descendants())
        {
            switch (block)
            {
                case FencedCodeBlock fenced when fenced.ClosingFencedCharCount == 0:
                    problems.Add($"code fence opened on line {fenced.Line + 1} is never closed");
                    break;
                case HtmlBlock html:
                    var text = html.Lines.ToString();
                    depth += Count(text, "<details") - Count(text, "</details>");
                    if (depth < 0)
                    {
                        problems.Add($"</details> on line {html.Line + 1} closes nothing");
                        depth = 0;
                    }

                    break;
            }
        }

        if (depth > 0)
        {
            problems.Add($"{depth} <details> never closed");
        }

        return problems;
    }

    private static int Count(string text, string value)
    {
        int count = 0, at = 0;
        while ((at = text.IndexOf(value, at, StringComparison.OrdinalIgnoreCase)) >= 0)
        {
            count++;
            at += value.Length;
        }

        return count;
    }

    /// <summary>Appends blocks separated by blank lines: the only places a rendered output is ever cut.</summary>
    public static StringBuilder AppendBlock(this StringBuilder sb, string block)
    {
        if (sb.Length > 0)
        {
            sb.Append("\n\n");
        }

        return sb.Append(block);
    }

    /// <summary>Lines joined by newlines as one block, written straight into the builder (no joined copy).</summary>
    public static StringBuilder AppendLinesBlock(this StringBuilder sb, IReadOnlyList<string> lines)
    {
        if (sb.Length > 0)
        {
            sb.Append("\n\n");
        }

        for (var i = 0; i < lines.Count; i++)
        {
            if (i > 0)
            {
                sb.Append('\n');
            }

            sb.Append(lines[i]);
        }

        return sb;
    }

    public static int BlockCost(StringBuilder sb, string block) => (sb.Length > 0 ? 2 : 0) + block.Length;
}
