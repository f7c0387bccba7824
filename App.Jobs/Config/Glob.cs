using System.Text;
using System.Text.RegularExpressions;

namespace Ensemble.Jobs.Config;

/// <summary>
/// A path glob relative to the repository root: <c>*</c> and <c>?</c> stay within one path segment, <c>**</c> (a
/// whole segment) spans any number of segments, including none, <c>[abc]</c>/<c>[a-z]</c>/<c>[!a]</c> match one
/// character, <c>{tf,tfvars}</c> is one of the alternatives. So <c>envs/prod/**</c> matches <c>envs/prod</c> and
/// everything under it, and <c>**/*.md</c> matches Markdown files at any depth.
/// </summary>
public sealed class Glob
{
    // Globs come from pull requests: a linear-time engine means no pattern can make matching slow.
    private const RegexOptions Options = RegexOptions.CultureInvariant | RegexOptions.NonBacktracking;

    private readonly Regex _regex;

    private Glob(string pattern, Regex regex)
    {
        Pattern = pattern;
        _regex = regex;
    }

    public string Pattern { get; }

    public bool IsMatch(string path) => _regex.IsMatch(path);

    public override string ToString() => Pattern;

    /// <summary>Compiles a glob, or explains why it is not one.</summary>
    public static bool TryParse(string pattern, out Glob? glob, out string error)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        glob = null;
        error = Validate(pattern) ?? "";
        if (error.Length > 0)
        {
            return false;
        }

        var regex = new StringBuilder("^");
        var segments = pattern.Split('/');
        for (var s = 0; s < segments.Length; s++)
        {
            var segment = segments[s];
            var last = s == segments.Length - 1;
            if (segment == "**")
            {
                // Zero or more whole segments: "a/**/b" matches "a/b", "a/**" matches "a" itself.
                regex.Append(last ? (s == 0 ? ".*" : "(?:/.*)?") : (s == 0 ? "(?:[^/]+/)*" : "(?:/[^/]+)*/"));
                continue;
            }

            if (s > 0 && segments[s - 1] != "**")
            {
                regex.Append('/');
            }

            if (!AppendSegment(segment, regex, out error))
            {
                return false;
            }
        }

        glob = new Glob(pattern, new Regex(regex.Append('$').ToString(), Options));
        return true;
    }

    /// <summary>Compiles a glob known to be valid (for code and tests); throws on a bad one.</summary>
    public static Glob Parse(string pattern) =>
        TryParse(pattern, out var glob, out var error) ? glob! : throw new ArgumentException($"'{pattern}': {error}", nameof(pattern));

    private static string? Validate(string pattern)
    {
        if (pattern.Length == 0)
        {
            return "a glob must not be empty";
        }

        if (pattern[0] == '/')
        {
            return "globs are relative to the repository root and must not start with '/'";
        }

        if (pattern.Contains('\\', StringComparison.Ordinal))
        {
            return "use '/' to separate directories; '\\' is not allowed";
        }

        if (pattern.Contains("**/**", StringComparison.Ordinal))
        {
            return "'**/**' repeats itself; write '**'";
        }

        foreach (var segment in pattern.Split('/'))
        {
            if (segment.Length == 0)
            {
                return "empty path segment ('//' or a trailing '/')";
            }

            if (segment is "." or "..")
            {
                return $"'{segment}' segments are not allowed; globs are relative to the repository root";
            }

            if (segment != "**" && segment.Contains("**", StringComparison.Ordinal))
            {
                return "'**' must be a whole path segment, as in 'modules/**/*.tf'";
            }
        }

        return null;
    }

    private static bool AppendSegment(string segment, StringBuilder regex, out string error)
    {
        error = "";
        var inBraces = false;
        for (var i = 0; i < segment.Length; i++)
        {
            var c = segment[i];
            switch (c)
            {
                case '*':
                    regex.Append("[^/]*");
                    break;
                case '?':
                    regex.Append("[^/]");
                    break;
                case '[':
                    var close = segment.IndexOf(']', i + 2);
                    if (close < 0)
                    {
                        error = $"unclosed '[' in '{segment}'";
                        return false;
                    }

                    var set = segment[(i + 1)..close];
                    var negated = set[0] == '!';
                    if (negated)
                    {
                        set = set[1..];
                    }

                    if (set.Length == 0)
                    {
                        error = $"empty character class in '{segment}'";
                        return false;
                    }

                    regex.Append(negated ? "[^/" : "[");
                    foreach (var member in set)
                    {
                        // Escaped unless a letter, digit or range dash, so no member can end or change the class.
                        if (!char.IsAsciiLetterOrDigit(member) && member != '-')
                        {
                            regex.Append('\\');
                        }

                        regex.Append(member);
                    }

                    regex.Append(']');
                    i = close;
                    break;
                case ']':
                    error = $"']' without '[' in '{segment}'";
                    return false;
                case '{':
                    if (inBraces)
                    {
                        error = $"nested '{{' in '{segment}'";
                        return false;
                    }

                    inBraces = true;
                    regex.Append("(?:");
                    break;
                case ',' when inBraces:
                    regex.Append('|');
                    break;
                case '}':
                    if (!inBraces)
                    {
                        error = $"'}}' without '{{' in '{segment}'";
                        return false;
                    }

                    inBraces = false;
                    regex.Append(')');
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        if (inBraces)
        {
            error = $"unclosed '{{' in '{segment}'";
            return false;
        }

        return true;
    }
}
