using System.Globalization;
using System.Text;
using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.Artifacts;

/// <summary>
/// Builds and checks artifact keys: '/'-separated, relative, made only of URL-safe characters, so the same key
/// works as an S3 object key and as a path under a local directory.
/// </summary>
public static class ArtifactKeys
{
    /// <summary>The saved plan (binary, holds secrets in clear).</summary>
    public const string PlanFile = "plan.tfplan";

    /// <summary>The output of <c>terraform show -json</c> for the saved plan.</summary>
    public const string PlanJson = "plan.json";

    /// <summary>Combined output of init and plan.</summary>
    public const string PlanLog = "plan.log";

    /// <summary>Output of apply.</summary>
    public const string ApplyLog = "apply.log";

    /// <summary>The project path of the repository root as a key segment.</summary>
    public const string RootProjectSegment = "_root";

    /// <summary>
    /// <c>repos/{owner}/{repo}/pulls/{n}/{sha}/{project}/{name}</c>, where the project path keeps its '/',
    /// the repository root "." becomes "_root", and characters outside <c>[A-Za-z0-9._~-]</c> are percent-encoded.
    /// </summary>
    public static string For(RepoRef repo, int pullRequest, string projectPath, string headSha, string name)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pullRequest);
        return string.Join('/',
            "repos",
            EscapeSegment(repo.Owner, "repository owner"),
            EscapeSegment(repo.Name, "repository name"),
            "pulls",
            pullRequest.ToString(CultureInfo.InvariantCulture),
            NormalizeSha(headSha),
            EscapeProjectPath(projectPath),
            CheckName(name));
    }

    /// <summary>
    /// The key form of a repo-relative project path: "." (or "") is "_root"; each '/'-separated segment is
    /// percent-encoded. A literal top-level "_root" directory is written "%5Froot" so it cannot meet the root project.
    /// </summary>
    public static string EscapeProjectPath(string projectPath)
    {
        ArgumentNullException.ThrowIfNull(projectPath);
        var path = projectPath.Trim('/');
        if (path is "" or ".")
        {
            return RootProjectSegment;
        }

        var segments = path.Split('/');
        var escaped = new string[segments.Length];
        for (var i = 0; i < segments.Length; i++)
        {
            escaped[i] = EscapeSegment(segments[i], $"project path '{projectPath}'");
        }

        if (escaped[0] == RootProjectSegment)
        {
            escaped[0] = "%5F" + RootProjectSegment[1..];
        }

        return string.Join('/', escaped);
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless the key is relative, '/'-separated, and cannot step out of the
    /// place it is stored under (no "..", no absolute path, no backslash, no empty or "." segment, no control character).
    /// </summary>
    public static void Validate(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        string? problem = null;
        if (key.Length == 0)
        {
            problem = "it is empty";
        }
        else if (key.Length > 1024)
        {
            problem = "it is longer than 1024 characters";
        }
        else if (key[0] == '/' || (key.Length > 1 && key[1] == ':'))
        {
            problem = "it is absolute";
        }
        else if (key.Contains('\\', StringComparison.Ordinal))
        {
            problem = "it contains a backslash";
        }
        else if (key.Any(char.IsControl))
        {
            problem = "it contains a control character";
        }
        else if (key.Split('/').Any(segment => segment is "" or "." or ".."))
        {
            problem = "it has an empty, '.' or '..' segment";
        }

        if (problem is not null)
        {
            throw new ArgumentException($"Invalid artifact key '{key}': {problem}.", nameof(key));
        }
    }

    private static string NormalizeSha(string headSha)
    {
        ArgumentNullException.ThrowIfNull(headSha);
        if (headSha.Length is not (40 or 64) || !headSha.All(char.IsAsciiHexDigit))
        {
            throw new ArgumentException($"'{headSha}' is not a full commit SHA (40 or 64 hex digits).", nameof(headSha));
        }

        return headSha.ToLowerInvariant();
    }

    private static string CheckName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || name is "." or ".." || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new ArgumentException($"Invalid artifact name '{name}': use letters, digits, '.', '_' and '-' only.", nameof(name));
        }

        return name;
    }

    private static string EscapeSegment(string segment, string what)
    {
        if (segment is "" or "." or "..")
        {
            throw new ArgumentException($"Invalid {what}: '{segment}' cannot be part of an artifact key.");
        }

        var builder = new StringBuilder(segment.Length);
        foreach (var b in Encoding.UTF8.GetBytes(segment))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '~' or '-')
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
