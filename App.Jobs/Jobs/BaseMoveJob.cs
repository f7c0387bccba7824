using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;
using Hangfire;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// A push moved the default branch: every open pull request into it whose planned inputs (project directory and the
/// local modules it uses) the push changed is planned again, project by project, at its head — the same path as a
/// "Re-plan" (fresh queued check run, then <see cref="PlanJob"/>, whose auto-approval keeps the approval of an
/// identical plan). What the push did not touch is left alone. docs/apply.md says why the head and not a merge.
/// </summary>
public sealed partial class BaseMoveJob(
    IStateStore state,
    GitMirror mirror,
    ProjectInputs projectInputs,
    IInstallationTokenSource tokens,
    Replans replans,
    AggregatePublisher aggregates,
    ILogger<BaseMoveJob> logger)
{
    /// <summary>
    /// How long a push waits before its re-plans: the push that merges a pull request arrives together with its
    /// <c>pull_request.closed</c>, which must close that PR's head first (re-planning it would take its approved plans
    /// away from the apply). The job also skips heads the push contains; this delay covers squash merges.
    /// </summary>
    public static TimeSpan SettleDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Plans that stand until something changes; queued, running and failed plans are left to their own flow.</summary>
    private static readonly RunStatus[] Replannable = [RunStatus.AwaitingApproval, RunStatus.Approved, RunStatus.NoChanges];

    /// <summary>Enqueues the re-plans of a push to <paramref name="branch"/>, to run after <paramref name="delay"/> (zero: now).</summary>
    public static void Schedule(IBackgroundJobClient jobs, RepoRef repo, string branch, string before, string after, TimeSpan delay)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(repo);
        if (delay <= TimeSpan.Zero)
        {
            jobs.Enqueue<BaseMoveJob>(job => job.RunAsync(repo.InstallationId, repo.Owner, repo.Name, branch, before, after, CancellationToken.None));
        }
        else
        {
            jobs.Schedule<BaseMoveJob>(job => job.RunAsync(repo.InstallationId, repo.Owner, repo.Name, branch, before, after, CancellationToken.None), delay);
        }
    }

    /// <summary>Reentrant: a run already queued is not queued again; an identical re-plan is auto-approved.</summary>
    [AutomaticRetry(Attempts = 3)]
    public async Task RunAsync(long installationId, string owner, string name, string branch, string before, string after, CancellationToken cancellationToken)
    {
        var repo = new RepoRef(installationId, owner, name);
        using var scope = logger.BeginScope(new Dictionary<string, object?> { ["Repository"] = repo.FullName, ["Push"] = after });
        var heads = (await state.ListOpenHeadsAsync(repo, branch, cancellationToken)).Where(h => h.Status == HeadStatus.Discovered).ToList();
        if (heads.Count == 0)
        {
            return;
        }

        var token = await tokens.GetTokenAsync(installationId, cancellationToken);
        await mirror.FetchAsync(repo, token, [$"refs/heads/{branch}", .. heads.Select(h => $"refs/pull/{h.Number}/head")], [after], cancellationToken);
        var beforeKnown = await HasCommitAsync(repo, token, before, cancellationToken);
        if (!beforeKnown)
        {
            LogBeforeUnknown(logger, before);
        }

        foreach (var head in heads)
        {
            try
            {
                await ReplanStaleAsync(repo, head, beforeKnown ? before : null, after, cancellationToken);
            }
            catch (GitException e)
            {
                // One PR's commits being unreachable (a force-pushed branch) must not keep the others stale.
                LogHeadSkipped(logger, head.Number, e.Message);
            }
        }
    }

    private async Task ReplanStaleAsync(RepoRef repo, PullRequestHead head, string? before, string after, CancellationToken ct)
    {
        if (string.Equals(await mirror.MergeBaseAsync(repo, head.HeadSha, after, ct), head.HeadSha, StringComparison.OrdinalIgnoreCase))
        {
            // The push contains this head: it is the PR's own merge, which pull_request.closed turns into applies.
            return;
        }

        var runs = (await state.ListRunsAsync(head.Id, ct)).Where(r => Replannable.Contains(r.Status)).ToList();
        var replanned = 0;
        foreach (var run in runs)
        {
            var inputs = await projectInputs.OfAsync(repo, head.Number, head.BaseSha, run.PlanSha, run.ProjectPath, ct);
            var planned = await mirror.TreeHashesAsync(repo, run.PlanSha, inputs.All, ct);
            var old = before is null ? null : await mirror.TreeHashesAsync(repo, before, inputs.All, ct);
            var now = await mirror.TreeHashesAsync(repo, after, inputs.All, ct);
            var stale = BaseMove.StaleInputs(planned, old, now);
            if (stale.Count == 0)
            {
                continue;
            }

            if (!await replans.RequeueAsync(head, run, BaseMove.Reason(run.ProjectPath, stale, after, inputs.Files), ct))
            {
                continue;
            }

            LogReplanned(logger, head.Number, run.ProjectPath, string.Join(", ", stale));
            replanned++;
        }

        if (replanned > 0)
        {
            await aggregates.PublishAsync(head.Id, ct);
        }
    }

    /// <summary>Whether the pre-push commit can be read (a forced push may have made it unreachable).</summary>
    private async Task<bool> HasCommitAsync(RepoRef repo, string? token, string sha, CancellationToken ct)
    {
        try
        {
            await mirror.FetchAsync(repo, token, [], [sha], ct);
            return true;
        }
        catch (GitException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Default branch moved: #{Number} {Project} planned again ({Inputs} changed)")]
    private static partial void LogReplanned(ILogger logger, int number, string project, string inputs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Commit {Before} before the push is gone (forced push): every input that differs from the plan counts as changed")]
    private static partial void LogBeforeUnknown(ILogger logger, string before);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pull request #{Number} not checked after the push: {Error}")]
    private static partial void LogHeadSkipped(ILogger logger, int number, string error);
}
