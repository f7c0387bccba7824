namespace Ensemble.Jobs.Terraform;

/// <summary>Finds the one directory a run may write: the workspace holding its source, HOME and TMPDIR.</summary>
public static class TerraformWorkspace
{
    /// <summary>
    /// The deepest common directory of the invocation's working, home and temp directories. It must lie inside
    /// <c>{workDirectory}/workspaces/</c>: anything wider (the work directory itself, its mirrors, state or artifacts)
    /// would be writable by the run, so it is refused as a caller bug.
    /// </summary>
    public static string Locate(TerraformInvocation invocation, string workDirectory)
    {
        var paths = new[] { invocation.WorkingDirectory, invocation.HomeDirectory, invocation.TempDirectory }
            .Select(p => Path.TrimEndingDirectorySeparator(Path.GetFullPath(p)))
            .ToArray();
        var common = paths[0];
        foreach (var path in paths.Skip(1))
        {
            while (!IsSameOrInside(path, common))
            {
                common = Path.GetDirectoryName(common) ?? "/";
                if (common == "/")
                {
                    break;
                }
            }
        }

        var workspaces = Path.Combine(Path.TrimEndingDirectorySeparator(Path.GetFullPath(workDirectory)), "workspaces");
        if (!IsSameOrInside(common, workspaces) || common == workspaces)
        {
            throw new ArgumentException(
                $"The terraform working, home and temp directories ({string.Join(", ", paths)}) must share one workspace directory inside {workspaces}/; their common directory is {common}.",
                nameof(invocation));
        }

        return common;
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="directory"/> or below it (whole path segments only).</summary>
    public static bool IsSameOrInside(string path, string directory)
    {
        path = Path.TrimEndingDirectorySeparator(path);
        directory = Path.TrimEndingDirectorySeparator(directory);
        if (directory == "/")
        {
            return path.StartsWith('/');
        }

        return path == directory || path.StartsWith(directory + "/", StringComparison.Ordinal);
    }
}
