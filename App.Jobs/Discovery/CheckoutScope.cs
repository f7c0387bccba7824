using Ensemble.Jobs.Config;

namespace Ensemble.Jobs.Discovery;

/// <summary>
/// What a run of one project checks out: the files that can change its plan, and no others. In a monorepo of
/// 100,000 files a plan needs a few dozen; writing (and deleting) the whole tree for each of a thousand plans is most
/// of what planning would cost. The scope is the one discovery already uses to decide that a change affects the
/// project — so a file that would not trigger a plan is also not there to be read by one:
/// the project directory (everything below it), every local module it uses (transitively, everything below each),
/// the files they read by a plain relative path, and the project's <c>extra_paths</c> / <c>when_modified</c> globs
/// from <c>.ensemble.yml</c> (the place to list files read by a computed path). A root project (<c>.</c>) — or a
/// module at the root — is the whole tree.
/// </summary>
public static class CheckoutScope
{
    /// <summary>
    /// The repo-relative directories and files to check out for <paramref name="projectPath"/>, sorted; <c>null</c>
    /// for the whole tree. Paths that do not exist at the commit are harmless (nothing is checked out for them).
    /// </summary>
    public static IReadOnlyList<string>? Paths(RepoSnapshot snapshot, string projectPath)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentException.ThrowIfNullOrEmpty(projectPath);
        var directories = new HashSet<string>(StringComparer.Ordinal) { projectPath };
        directories.UnionWith(snapshot.ModulesUsedBy(projectPath));
        if (directories.Contains(RepoPaths.Root))
        {
            return null;
        }

        var paths = new List<string>(directories);
        paths.AddRange(snapshot.FilesReadBy(directories));
        return Minimal(paths);
    }

    /// <summary>
    /// The directory every path matching <paramref name="glob"/> lies in: its leading segments without wildcards
    /// (<c>config/**/*.yaml</c> → <c>config</c>, <c>*.json</c> → <c>.</c>), so only that part of the tree is listed.
    /// </summary>
    public static string ListingRoot(Glob glob)
    {
        ArgumentNullException.ThrowIfNull(glob);
        var segments = glob.Pattern.Split('/');
        var literal = segments.Take(segments.Length - 1).TakeWhile(s => s.IndexOfAny(['*', '?', '[', '{']) < 0).ToArray();
        return literal.Length == 0 ? RepoPaths.Root : string.Join('/', literal);
    }

    /// <summary>Sorted, without duplicates and without paths inside another one of the list (already checked out with it).</summary>
    public static IReadOnlyList<string> Minimal(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var sorted = paths.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var result = new List<string>(sorted.Count);
        foreach (var path in sorted)
        {
            // Sorted ordinally, a directory's contents follow it, but not necessarily right after it ("a/b" < "a/b-c" <
            // "a/b/x"), so every kept path is a candidate parent.
            if (!result.Exists(kept => path.StartsWith(kept + "/", StringComparison.Ordinal)))
            {
                result.Add(path);
            }
        }

        return result;
    }
}
