using Ensemble.Jobs.Config;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Declared dependencies between projects (<c>depends_on</c> in <c>.ensemble.yml</c>): a project is applied only after
/// the projects it depends on, directly or through others. Read from the <b>merge commit</b>: it is the default branch's
/// file as the merge left it, so a pull request that adds a project can order it in the same change. Ordering grants
/// no power (it only delays an apply), which is why the PR's own edits may count; who may approve still comes from
/// the base (<see cref="RepoConfigs"/>).
/// </summary>
public sealed partial class ApplyDependencies(
    IStateStore state, RepoConfigs configs, GitMirror mirror, IInstallationTokenSource tokens, ILogger<ApplyDependencies> logger)
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> None = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Project → every project it must wait for (transitively), for <see cref="Core.ApplyVerification.Gate"/>.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> ForAsync(PullRequestHead head, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(head);
        var merge = await state.GetMergeByHeadAsync(head.Id, ct);
        if (merge is not null)
        {
            try
            {
                await EnsureCommitAsync(head, merge.MergeSha, ct);
                var atMerge = await configs.EffectiveAsync(head.Repo, head.Number, merge.MergeSha, merge.MergeSha, ct);
                if (atMerge.IsValid)
                {
                    return Closure(atMerge.Projects);
                }

                LogInvalidAtMerge(logger, merge.MergeSha, string.Join("; ", atMerge.Errors));
            }
            catch (GitException e)
            {
                // Reporting and ordering must not stop on an unreadable merge commit; the reviewed order is close.
                LogMergeUnreadable(logger, merge.MergeSha, e.Message);
            }
        }

        // The order the pull request was reviewed with: its head's file (valid, or nothing would have been planned).
        try
        {
            var reviewed = await configs.EffectiveAsync(head.Repo, head.Number, head.BaseSha, head.HeadSha, ct);
            return reviewed.IsValid ? Closure(reviewed.Projects) : None;
        }
        catch (GitException e)
        {
            LogHeadUnreadable(logger, head.HeadSha, e.Message);
            return None;
        }
    }

    /// <summary>The merge commit is on the base branch, not on the PR's ref that a config read would fetch.</summary>
    private async Task EnsureCommitAsync(PullRequestHead head, string sha, CancellationToken ct)
    {
        try
        {
            await mirror.TreeHashAsync(head.Repo, sha, RepoConfigs.FileName, ct);
        }
        catch (GitException)
        {
            var token = await tokens.GetTokenAsync(head.Repo.InstallationId, ct);
            await mirror.FetchAsync(head.Repo, token, [$"refs/heads/{head.BaseRef}"], [sha], ct);
        }
    }

    /// <summary>
    /// Every project each configured project waits for: its <c>depends_on</c> and theirs, so an unchanged project in
    /// the middle of a chain still orders the two ends. A project never lists itself; a cycle stays visible as two
    /// projects waiting for each other, which <see cref="Core.ApplyVerification.Gate"/> refuses with the cycle named.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Closure(IReadOnlyList<ProjectConfig> projects)
    {
        ArgumentNullException.ThrowIfNull(projects);
        var direct = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var project in projects.Where(p => p.DependsOn.Count > 0))
        {
            direct[project.Path] = project.DependsOn;
        }

        var closure = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var project in direct.Keys)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var pending = new Stack<string>(direct[project]);
            while (pending.TryPop(out var next))
            {
                if (seen.Add(next))
                {
                    foreach (var further in direct.GetValueOrDefault(next) ?? [])
                    {
                        pending.Push(further);
                    }
                }
            }

            seen.Remove(project);
            closure[project] = [.. seen.Order(StringComparer.Ordinal)];
        }

        return closure;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = ".ensemble.yml in merge commit {MergeSha} is invalid ({Errors}); apply order comes from the pull request's head")]
    private static partial void LogInvalidAtMerge(ILogger logger, string mergeSha, string errors);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Merge commit {MergeSha} cannot be read ({Error}); apply order comes from the pull request's head")]
    private static partial void LogMergeUnreadable(ILogger logger, string mergeSha, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Neither the merge commit nor head {HeadSha} can be read ({Error}): applies are not ordered")]
    private static partial void LogHeadUnreadable(ILogger logger, string headSha, string error);
}
