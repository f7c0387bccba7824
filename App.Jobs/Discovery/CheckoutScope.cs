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
    /// <summary>The project's inputs found by discovery: the project, its local modules, the files they read.</summary>
    public static ProjectInputSet Of(RepoSnapshot snapshot, string projectPath)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentException.ThrowIfNullOrEmpty(projectPath);
        var modules = snapshot.ModulesUsedBy(projectPath);
        return new ProjectInputSet(projectPath, modules, snapshot.FilesReadBy([projectPath, .. modules]));
    }

    /// <summary>
    /// The repo-relative directories and files to check out for <paramref name="projectPath"/>, sorted; <c>null</c>
    /// for the whole tree. Paths that do not exist at the commit are harmless (nothing is checked out for them).
    /// </summary>
    public static IReadOnlyList<string>? Paths(RepoSnapshot snapshot, string projectPath) => Of(snapshot, projectPath).Checkout;

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

/// <summary>
/// A project's inputs: what its plans check out (<see cref="Checkout"/>) and what an apply or a base move compares
/// between commits (<see cref="All"/>), each input named for people by <see cref="Describe"/>.
/// </summary>
/// <param name="ProjectPath">The project directory.</param>
/// <param name="Modules">The local module directories it uses, directly or transitively.</param>
/// <param name="Files">Files it reads by a plain path, and those its <c>extra_paths</c> globs match.</param>
public sealed record ProjectInputSet(string ProjectPath, IReadOnlyList<string> Modules, IReadOnlyList<string> Files)
{
    /// <summary>Every input path, the project first (overlaps kept: each is compared as itself).</summary>
    public IReadOnlyList<string> All => [ProjectPath, .. Modules.Where(m => m != ProjectPath), .. Files.Except(Modules).Where(f => f != ProjectPath)];

    /// <summary>What to check out: the inputs without those inside another, sorted; <c>null</c> for the whole tree (an input at the root).</summary>
    public IReadOnlyList<string>? Checkout => All.Contains(RepoPaths.Root) ? null : CheckoutScope.Minimal(All);

    /// <summary>How a changed input is named in a refusal or a re-plan reason.</summary>
    public string Describe(string path) => Describe(path, ProjectPath, Files);

    /// <summary>
    /// <c>`envs/prod` (the project)</c>, <c>`shared/x.json` (a file it reads)</c> for one of <paramref name="files"/>,
    /// else <c>`modules/net` (a module it uses)</c>.
    /// </summary>
    public static string Describe(string path, string projectPath, IReadOnlyCollection<string> files) =>
        path == projectPath ? $"`{path}` (the project)"
        : files.Contains(path) ? $"`{path}` (a file it reads)"
        : $"`{path}` (a module it uses)";

    /// <summary>The same inputs with more files (the <c>extra_paths</c> matches).</summary>
    public ProjectInputSet WithFiles(IEnumerable<string> files) =>
        this with { Files = [.. Files.Concat(files).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)] };
}
