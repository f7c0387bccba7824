using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;
using Ensemble.Jobs.Git;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// What a plan or apply of one project checks out (<see cref="CheckoutScope"/>): from the discovery snapshot of the
/// commit and the project's <c>extra_paths</c> in the <c>.ensemble.yml</c> of that same commit. A function of the
/// commit alone, so the apply of a plan checks out exactly what the plan saw.
/// </summary>
public sealed class ProjectInputs(ProjectFinder finder, RepoConfigs configs, GitMirror mirror)
{
    /// <summary>The inputs of <paramref name="projectPath"/> at <paramref name="sha"/>.</summary>
    /// <param name="baseSha">The pull request's base (the configuration's default-branch half; see <see cref="RepoConfigs"/>).</param>
    public async Task<ProjectInputSet> OfAsync(RepoRef repo, int number, string baseSha, string sha, string projectPath, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var inputs = CheckoutScope.Of(await finder.SnapshotAsync(repo, sha, ct), projectPath);
        var config = await configs.EffectiveAsync(repo, number, baseSha, sha, ct);
        var globs = config.IsValid ? config.FindProject(projectPath)?.WhenModified ?? [] : [];
        if (globs.Count == 0)
        {
            return inputs;
        }

        var matches = new List<string>();
        foreach (var root in globs.Select(CheckoutScope.ListingRoot).Distinct(StringComparer.Ordinal))
        {
            matches.AddRange((await mirror.ListFilesAsync(repo, sha, root, ct)).Where(file => globs.Any(g => g.IsMatch(file))));
        }

        return inputs.WithFiles(matches);
    }
}
