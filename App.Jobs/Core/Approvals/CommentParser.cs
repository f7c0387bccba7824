using System.Text;

namespace Ensemble.Jobs.Core.Approvals;

/// <summary>What a pull-request comment asks of Ensemble.</summary>
public abstract record ParsedComment
{
    private ParsedComment() { }

    /// <summary>No line starts with <c>/ensemble</c>: ignore the comment silently.</summary>
    public sealed record NotACommand : ParsedComment;

    /// <summary>Plan again; <paramref name="Projects"/> are validated repo-relative paths, empty for every project.</summary>
    public sealed record Replan(IReadOnlyList<string> Projects) : ParsedComment
    {
        public bool AllProjects => Projects.Count == 0;
    }

    public sealed record Help : ParsedComment;

    /// <summary>A command Ensemble cannot carry out; <paramref name="Reply"/> is safe Markdown to post as a reply.</summary>
    public sealed record Invalid(string Reply) : ParsedComment;
}

/// <summary>
/// Reads <c>/ensemble</c> commands from pull-request comments. Pure. Comment text is data: arguments must be
/// project paths of a strict grammar, and nothing from the comment reaches a reply unescaped.
/// </summary>
/// <remarks>
/// Rules: the first line that starts with <c>/ensemble</c> (after at most 3 spaces) is the command, later ones are
/// ignored; the command word is case-insensitive and words may be separated by any spaces or tabs. Lines in a fenced
/// code block (``` or ~~~), quoted lines (<c>&gt; /ensemble</c>) and lines indented 4 columns or more (Markdown code)
/// are not commands, because a reader sees them as quoted text, not as a request. <c>/ensemble plan</c> is accepted
/// as <c>/ensemble replan</c>: users coming from Atlantis type it, and it can only ever plan.
/// </remarks>
public static class CommentParser
{
    public const string Prefix = "/ensemble";
    public const int MaxProjects = 50;
    public const int MaxProjectPathLength = 256;
    private const int MaxReportedErrors = 5;

    public const string HelpText = """
        **Ensemble commands** (comment on this pull request, the command on a line of its own):

        | Command | What it does |
        |---|---|
        | `/ensemble replan` | Plans every project of this pull request again. |
        | `/ensemble replan <project> …` | Plans only the named projects again, e.g. `/ensemble replan envs/prod`. |
        | `/ensemble help` | Shows this help. |

        `/ensemble plan` works like `/ensemble replan`. To approve a plan, press **Approve** on its check run
        `ensemble: <project>`; approved plans are applied after the pull request is merged.
        """;

    public static ParsedComment Parse(string? body)
    {
        if (string.IsNullOrEmpty(body))
        {
            return new ParsedComment.NotACommand();
        }

        char fenceChar = '\0';
        var fenceLength = 0;
        foreach (var rawLine in body.AsSpan().EnumerateLines())
        {
            var indent = IndentColumns(rawLine, out var start);
            var line = rawLine[start..];
            if (fenceLength > 0)
            {
                if (indent < 4 && IsFence(line, out var c, out var n) && c == fenceChar && n >= fenceLength && line[n..].IsWhiteSpace())
                {
                    fenceLength = 0;
                }

                continue;
            }

            if (indent >= 4)
            {
                continue;
            }

            if (IsFence(line, out fenceChar, out fenceLength))
            {
                // A backtick fence's info string cannot hold a backtick; such a line is inline code, not a fence.
                if (fenceChar == '`' && line[fenceLength..].Contains('`'))
                {
                    fenceLength = 0;
                }

                continue;
            }

            if (line.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase)
                && (line.Length == Prefix.Length || char.IsWhiteSpace(line[Prefix.Length])))
            {
                return ParseCommand(line[Prefix.Length..]);
            }
        }

        return new ParsedComment.NotACommand();
    }

    /// <summary>
    /// Null when every named project is one of <paramref name="knownProjects"/> (the projects of the PR head);
    /// otherwise a Markdown reply naming the unknown ones and listing the valid paths.
    /// </summary>
    public static string? ValidateProjects(ParsedComment.Replan replan, IReadOnlyCollection<string> knownProjects)
    {
        ArgumentNullException.ThrowIfNull(replan);
        ArgumentNullException.ThrowIfNull(knownProjects);
        var known = knownProjects.ToHashSet(StringComparer.Ordinal);
        var unknown = replan.Projects.Where(p => !known.Contains(p)).ToList();
        if (unknown.Count == 0)
        {
            return null;
        }

        var sb = new StringBuilder();
        sb.Append(unknown.Count == 1 ? "Unknown project " : "Unknown projects ")
          .AppendJoin(", ", unknown.Select(MarkdownText.Code)).Append(".\n\n");
        if (known.Count == 0)
        {
            return sb.Append("This pull request changes no Terraform project, so there is nothing to replan.").ToString();
        }

        sb.Append("The projects of this pull request are:\n");
        var sorted = known.Order(StringComparer.Ordinal).ToList();
        foreach (var p in sorted.Take(MaxProjects))
        {
            sb.Append("- ").Append(MarkdownText.Code(p)).Append('\n');
        }

        if (sorted.Count > MaxProjects)
        {
            sb.Append("- … and ").Append(sorted.Count - MaxProjects).Append(" more\n");
        }

        return sb.Append("\nComment `/ensemble replan` to plan them all.").ToString();
    }

    private static ParsedComment ParseCommand(ReadOnlySpan<char> rest)
    {
        var words = new WordReader(rest);
        if (!words.Next(out var verb))
        {
            return Invalid("`/ensemble` needs a command.");
        }

        var command = verb.ToString().ToLowerInvariant();
        switch (command)
        {
            case "help":
                return new ParsedComment.Help();
            case "replan" or "plan":
                break;
            case "apply":
                return Invalid("There is no `apply` command: Ensemble applies approved plans after the pull request is merged.");
            case "approve":
                return Invalid("Approve a plan with the **Approve** button on its check run `ensemble: <project>`, not with a comment.");
            default:
                return Invalid($"Unknown command {MarkdownText.Escape(verb.ToString(), 40)}.");
        }

        var projects = new List<string>();
        var errors = new List<string>();
        var position = 0;
        while (words.Next(out var word))
        {
            position++;
            if (position > MaxProjects)
            {
                return Invalid($"`/ensemble {command}` can name at most {MaxProjects} projects; comment `/ensemble replan` to plan them all.");
            }

            if (ProjectPathError(word, out var path) is { } error)
            {
                if (errors.Count < MaxReportedErrors)
                {
                    errors.Add($"- argument {position} ({MarkdownText.Escape(word.ToString(), 60)}) {error}");
                }

                continue;
            }

            if (!projects.Contains(path, StringComparer.Ordinal))
            {
                projects.Add(path);
            }
        }

        return errors.Count == 0
            ? new ParsedComment.Replan(projects)
            : Invalid($"`/ensemble {command}` takes project paths, and these are not:\n{string.Join('\n', errors)}");
    }

    /// <summary>Null for a valid project path, normalised into <paramref name="path"/> (no leading <c>./</c>, no
    /// trailing <c>/</c>; the repository root is <c>.</c>); otherwise what is wrong with it.</summary>
    private static string? ProjectPathError(ReadOnlySpan<char> word, out string path)
    {
        path = "";
        if (word.Length > MaxProjectPathLength)
        {
            return $"is longer than {MaxProjectPathLength} characters";
        }

        foreach (var c in word)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '/' or '-'))
            {
                return "may contain only letters, digits, `.`, `_`, `/` and `-`";
            }
        }

        if (word[0] == '/')
        {
            return "must be relative to the repository root, without a leading `/`";
        }

        while (word.StartsWith("./", StringComparison.Ordinal))
        {
            word = word[2..];
        }

        word = word.TrimEnd('/');
        if (word.IsEmpty)
        {
            path = ".";
            return null;
        }

        if (word.SequenceEqual("."))
        {
            path = ".";
            return null;
        }

        foreach (var segment in word.ToString().Split('/'))
        {
            switch (segment)
            {
                case "..":
                    return "must not contain `..`";
                case "." or "":
                    return "must not contain empty or `.` parts";
            }
        }

        path = word.ToString();
        return null;
    }

    private static ParsedComment.Invalid Invalid(string problem) => new($"{problem}\n\n{HelpText}");

    /// <summary>Columns of leading spaces and tabs (a tab reaches the next multiple of 4), and where the text starts.</summary>
    private static int IndentColumns(ReadOnlySpan<char> line, out int start)
    {
        var columns = 0;
        start = 0;
        while (start < line.Length && line[start] is ' ' or '\t')
        {
            columns = line[start] == '\t' ? (columns / 4 + 1) * 4 : columns + 1;
            start++;
            if (columns >= 4)
            {
                break;
            }
        }

        return columns;
    }

    private static bool IsFence(ReadOnlySpan<char> line, out char fenceChar, out int length)
    {
        fenceChar = line.IsEmpty ? '\0' : line[0];
        length = 0;
        if (fenceChar is not ('`' or '~'))
        {
            return false;
        }

        while (length < line.Length && line[length] == fenceChar)
        {
            length++;
        }

        if (length >= 3)
        {
            return true;
        }

        length = 0;
        return false;
    }

    /// <summary>Splits on any whitespace without allocating the whole line: a 1 MB comment costs one pass.</summary>
    private ref struct WordReader(ReadOnlySpan<char> text)
    {
        private ReadOnlySpan<char> _rest = text;

        public bool Next(out ReadOnlySpan<char> word)
        {
            var i = 0;
            while (i < _rest.Length && char.IsWhiteSpace(_rest[i]))
            {
                i++;
            }

            var j = i;
            while (j < _rest.Length && !char.IsWhiteSpace(_rest[j]))
            {
                j++;
            }

            word = _rest[i..j];
            _rest = _rest[j..];
            return !word.IsEmpty;
        }
    }
}
