using Ensemble.Jobs.Config;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;
using Hangfire;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Finds the projects one pull-request head affects, creates their check runs (queued) and enqueues a plan job each.
/// Reentrant: runs are keyed by (head, project), check runs are created once, plans enqueued only while queued.
/// </summary>
public sealed partial class DiscoverJob(
    IStateStore state,
    GitMirror mirror,
    ProjectFinder finder,
    RepoConfigs configs,
    IInstallationTokenSource tokens,
    IGitHubChecks checks,
    IBackgroundJobClient jobs,
    AggregatePublisher aggregates,
    TimeProvider time,
    ILogger<DiscoverJob> logger)
{
    [AutomaticRetry(Attempts = 3)]
    public async Task RunAsync(long headId, CancellationToken cancellationToken)
    {
        var head = await state.GetHeadAsync(headId, cancellationToken);
        if (head is null || head.Status is not (HeadStatus.Discovering or HeadStatus.Discovered))
        {
            return;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object?> { ["Repository"] = head.Repo.FullName, ["PullRequest"] = head.Number, ["HeadSha"] = head.HeadSha });

        if (head.Status == HeadStatus.Discovering)
        {
            ConfiguredResult result;
            string mergeBase;
            try
            {
                (result, mergeBase) = await DiscoverAsync(head, cancellationToken);
            }
            catch (Exception e) when (e is GitException or InvalidOperationException or IOException)
            {
                LogDiscoveryFailed(logger, e.Message);
                await state.SetHeadStatusAsync(head.Id, HeadStatus.DiscoveryFailed, e.Message, time.GetUtcNow(), cancellationToken);
                await aggregates.PublishAsync(head.Id, cancellationToken);
                return;
            }

            var now = time.GetUtcNow();
            if (result.Errors.Count > 0)
            {
                // An invalid .ensemble.yml plans nothing rather than the wrong thing.
                var errors = $"`{RepoConfigs.FileName}` is invalid, so nothing was planned:\n\n" + string.Join("\n", result.Errors.Select(e => $"- {e}"));
                await state.SetHeadStatusAsync(head.Id, HeadStatus.DiscoveryFailed, errors, now, cancellationToken);
                await aggregates.PublishAsync(head.Id, cancellationToken);
                return;
            }

            await state.AddRunsAsync(head.Id,
                [.. result.Projects.Select(p => new NewRun(p.Path, p.Destroy, p.Destroy ? mergeBase : head.HeadSha, string.Join("\n", p.Reasons)))],
                now, cancellationToken);

            IEnumerable<string> notes = [.. result.Problems, .. result.Skipped.Select(p => $"`{p.Path}` not planned: {p.Reason}")];
            var problems = notes.Any() ? string.Join("\n", notes.Select(p => $"- {p}")) : null;
            await state.SetHeadStatusAsync(head.Id, HeadStatus.Discovered, problems, now, cancellationToken);
            LogDiscovered(logger, result.Projects.Count);
        }

        // Past this point the head is discovered; a retry after a crash resumes here without rediscovering.
        foreach (var run in await state.ListRunsAsync(head.Id, cancellationToken))
        {
            if (run.Status != RunStatus.Queued)
            {
                continue;
            }

            if (run.CheckRunId is null)
            {
                var id = await checks.CreateCheckRunAsync(head.Repo, new CheckRunRequest
                {
                    Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
                    HeadSha = head.HeadSha,
                    Status = CheckStatus.Queued,
                    ExternalId = $"run-{run.Id}",
                    Output = new CheckRunOutput("Queued: waiting for a worker",
                        $"The plan for `{run.ProjectPath}` waits for a free Ensemble worker.\n\nWhy this project: {run.Reasons}"),
                }, cancellationToken);
                await state.SetRunCheckRunAsync(run.Id, id, cancellationToken);
            }

            jobs.Enqueue<PlanJob>(job => job.RunAsync(run.Id, CancellationToken.None));
        }

        await aggregates.PublishAsync(head.Id, cancellationToken);
    }

    private async Task<(ConfiguredResult Result, string MergeBase)> DiscoverAsync(PullRequestHead head, CancellationToken ct)
    {
        var token = await tokens.GetTokenAsync(head.Repo.InstallationId, ct);
        await mirror.FetchAsync(head.Repo, token,
            [$"refs/pull/{head.Number}/head", $"refs/heads/{head.BaseRef}"], [head.HeadSha, head.BaseSha], ct);
        var mergeBase = await mirror.MergeBaseAsync(head.Repo, head.BaseSha, head.HeadSha, ct)
            ?? throw new InvalidOperationException($"Commits {head.BaseSha[..7]} and {head.HeadSha[..7]} share no history; rebase the branch on {head.BaseRef}.");
        // One git diff-tree gives the PR's changes and, with the merge base's cached snapshot, the head's snapshot.
        var snapshots = await finder.SnapshotsAsync(head.Repo, mergeBase, head.HeadSha, ct);
        var config = await configs.EffectiveAsync(head.Repo, head.Number, head.BaseSha, head.HeadSha, ct);
        var result = ConfiguredDiscovery.Apply(config, snapshots.Head, snapshots.Base, snapshots.Changes);
        return (result with { Problems = [.. config.Notices, .. result.Problems] }, mergeBase);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Discovered {Count} affected projects")]
    private static partial void LogDiscovered(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Discovery failed: {Reason}")]
    private static partial void LogDiscoveryFailed(ILogger logger, string reason);
}
