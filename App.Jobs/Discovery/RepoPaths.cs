namespace Ensemble.Jobs.Discovery;

/// <summary>Repo-relative, '/'-separated paths; the root directory is ".".</summary>
internal static class RepoPaths
{
    public const string Root = ".";

    /// <summary>The directory holding a file: "a/b/c.tf" → "a/b", "c.tf" → ".".</summary>
    public static string DirectoryOf(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? Root : path[..slash];
    }

    /// <summary>
    /// Joins a directory and a relative path and resolves "." and ".." (and "//" as in "../modules//net");
    /// null when the result would leave the repository.
    /// </summary>
    public static string? Combine(string directory, string relative)
    {
        var segments = new List<string>();
        if (directory != Root)
        {
            segments.AddRange(directory.Split('/'));
        }
        foreach (var range in relative.AsSpan().SplitAny('/', '\\'))
        {
            var segment = relative.AsSpan(range);
            if (segment.Length == 0 || segment.SequenceEqual("."))
            {
                continue;
            }
            if (segment.SequenceEqual(".."))
            {
                if (segments.Count == 0)
                {
                    return null;
                }
                segments.RemoveAt(segments.Count - 1);
                continue;
            }
            segments.Add(segment.ToString());
        }
        return segments.Count == 0 ? Root : string.Join('/', segments);
    }

    /// <summary>Rejects what git never produces: a caller passing OS or absolute paths has a bug to hear about.</summary>
    public static void RequireRepoRelative(string path, string parameter)
    {
        ArgumentNullException.ThrowIfNull(path, parameter);
        if (path.Length == 0 || path[0] == '/' || path[^1] == '/' || path.StartsWith("./", StringComparison.Ordinal) ||
            path.Contains("//", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{path}' is not a repo-relative file path like 'envs/prod/main.tf'", parameter);
        }
    }
}
