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
        var buffer = directory.Length + relative.Length < 512 ? stackalloc char[512] : new char[directory.Length + relative.Length + 1];
        return TryCombine(directory, relative, buffer, out var length) ? (length == 0 ? Root : new string(buffer[..length])) : null;
    }

    /// <summary>
    /// <see cref="Combine"/> without allocating: writes the result into <paramref name="destination"/> (at least
    /// directory + relative + 1 chars), length 0 meaning the root; false when the result would leave the repository.
    /// </summary>
    public static bool TryCombine(string directory, ReadOnlySpan<char> relative, Span<char> destination, out int length)
    {
        length = 0;
        if (directory != Root)
        {
            directory.AsSpan().CopyTo(destination);
            length = directory.Length;
        }
        foreach (var range in relative.SplitAny('/', '\\'))
        {
            var segment = relative[range];
            if (segment.Length == 0 || segment.SequenceEqual("."))
            {
                continue;
            }
            if (segment.SequenceEqual(".."))
            {
                if (length == 0)
                {
                    return false;
                }
                length = Math.Max(0, destination[..length].LastIndexOf('/'));
                continue;
            }
            if (length > 0)
            {
                destination[length++] = '/';
            }
            segment.CopyTo(destination[length..]);
            length += segment.Length;
        }
        return true;
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
