using System.Text.RegularExpressions;

namespace Ensemble.Jobs.Git;

/// <summary>
/// Checks for every name that reaches a git command line or a file path. Owner and repository names come from
/// webhooks, so they are refused unless they are plain GitHub names; refs and SHAs are refused if git could read
/// them as options.
/// </summary>
internal static partial class GitNames
{
    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex SafeSegment();

    [GeneratedRegex("^(?:[0-9a-f]{40}|[0-9a-f]{64})$")]
    private static partial Regex FullObjectId();

    /// <summary>One path segment of a mirror's location: GitHub's owner/repo alphabet, never "." or "..".</summary>
    public static string Segment(string value, string what)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!SafeSegment().IsMatch(value) || value.All(c => c == '.'))
        {
            throw new ArgumentException(
                $"The {what} '{value}' is not a valid GitHub name: only letters, digits, '.', '_' and '-' are allowed.",
                what);
        }

        return value;
    }

    /// <summary>A full object id (SHA-1 or SHA-256), lowercased; abbreviations are refused so answers can be keyed by id.</summary>
    public static string ObjectId(string value, string what)
    {
        ArgumentNullException.ThrowIfNull(value);
        var lower = value.Trim().ToLowerInvariant();
        if (!FullObjectId().IsMatch(lower))
        {
            throw new ArgumentException($"'{value}' is not a full git object id (40 or 64 hex digits).", what);
        }

        return lower;
    }

    /// <summary>A fully qualified ref such as <c>refs/pull/12/head</c>; refspec syntax and option-like names are refused.</summary>
    public static string Ref(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var valid = value.StartsWith("refs/", StringComparison.Ordinal)
            && !value.EndsWith('/')
            && !value.Contains("..", StringComparison.Ordinal)
            && !value.Contains("//", StringComparison.Ordinal)
            && !value.Contains("@{", StringComparison.Ordinal)
            && !value.EndsWith(".lock", StringComparison.Ordinal)
            && value.All(c => c > ' ' && c != 0x7f && c is not (':' or '~' or '^' or '?' or '*' or '[' or '\\'));
        return valid
            ? value
            : throw new ArgumentException($"'{value}' is not a fully qualified git ref (e.g. refs/heads/main).", nameof(value));
    }

    /// <summary>A revision (SHA or ref name) passed as an argument: never option-like, no whitespace or control characters.</summary>
    public static string Revision(string value, string what)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 0 || value[0] == '-' || value.Any(c => c <= ' ' || c == 0x7f) || value.Contains("...", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{value}' is not a valid git revision.", what);
        }

        return value;
    }

    /// <summary>
    /// A repository-relative directory or file path, normalised to git's form ("" for the root). Absolute paths,
    /// ".." segments and newlines are refused.
    /// </summary>
    public static string RepoPath(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var segments = value.Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Where(s => s != ".")
            .ToArray();
        if (value.StartsWith('/') || segments.Any(s => s == "..") || value.Any(c => c is '\n' or '\r' or '\0'))
        {
            throw new ArgumentException($"'{value}' is not a repository-relative path.", nameof(value));
        }

        return string.Join('/', segments);
    }
}
