using Ensemble.Jobs.Core;
using Ensemble.Jobs.Events;
using Ensemble.Jobs.State;
using Hangfire;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Starts applies after a merge, in dependency order: every approved project whose dependencies are done gets an
/// <see cref="ApplyJob"/>; each finished apply calls <see cref="EnqueueReadyAsync"/> again for its dependents.
/// Enqueuing a run twice is harmless: the job takes a run with a compare-and-set, so it applies at most once.
/// </summary>
public sealed partial class ApplyCoordinator(
    IStateStore state, IBackgroundJobClient jobs, ApplyDependencies dependencies, ApplyReporter reporter, TimeProvider time, ILogger<ApplyCoordinator> logger)
{
    /// <summary>On <c>pull_request.closed</c> with <c>merged: true</c>: records the merge of the PR's latest head and starts its applies.</summary>
    public async Task OnMergedAsync(PullRequestEvent pr, CancellationToken ct)
    {
        if (!pr.Merged)
        {
            return;
        }

        var head = (await state.ListHeadsAsync(pr.Repo, pr.Number, ct)).LastOrDefault(h => string.Equals(h.HeadSha, pr.HeadSha, StringComparison.OrdinalIgnoreCase));
        if (head is null)
        {
            LogNothingPlanned(logger, pr.Number, pr.HeadSha);
            return;
        }

        if (string.IsNullOrWhiteSpace(pr.MergeCommitSha))
        {
            LogNoMergeCommit(logger, pr.Number);
            return;
        }

        await state.RecordMergeAsync(head.Id, pr.MergeCommitSha, time.GetUtcNow(), ct);
        await EnqueueReadyAsync(head.Id, ct);
        await reporter.PublishCommentAsync(head, ct);
    }

    /// <summary>Enqueues an apply for every approved run of the merged head that may start now (or is blocked, to be reported).</summary>
    public async Task EnqueueReadyAsync(long headId, CancellationToken ct)
    {
        var head = await state.GetHeadAsync(headId, ct);
        if (head is null || await state.GetMergeByHeadAsync(headId, ct) is null)
        {
            return;
        }

        var runs = await state.ListRunsAsync(headId, ct);
        var statuses = runs.ToDictionary(r => r.ProjectPath, r => r.Status, StringComparer.Ordinal);
        var dependsOn = await dependencies.ForAsync(head, ct);
        foreach (var run in runs.Where(r => r.Status == RunStatus.Approved))
        {
            if (ApplyVerification.Gate(run.ProjectPath, dependsOn, statuses) is DependencyGate.Wait)
            {
                continue;
            }

            jobs.Enqueue<ApplyJob>(job => job.RunAsync(run.Id, null, CancellationToken.None));
        }
    }

    /// <summary>
    /// After a restart that lost the job queue (the embedded mode keeps jobs in memory): applies caught running are
    /// reported interrupted — never re-run — and approved runs of merged heads are started again. Returns how many runs
    /// it handled.
    /// </summary>
    public async Task<int> RecoverAsync(CancellationToken ct)
    {
        var runs = await state.ListMergedRunsToApplyAsync(ct);
        foreach (var run in runs.Where(r => r.Status == RunStatus.Applying))
        {
            jobs.Enqueue<ApplyJob>(job => job.ReportInterruptedAsync(run.Id, CancellationToken.None));
        }

        foreach (var headId in runs.Where(r => r.Status == RunStatus.Approved).Select(r => r.HeadId).Distinct())
        {
            await EnqueueReadyAsync(headId, ct);
        }

        return runs.Count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Pull request #{Number} merged at head {HeadSha}, which Ensemble never planned: nothing to apply")]
    private static partial void LogNothingPlanned(ILogger logger, int number, string headSha);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pull request #{Number} merged but the event names no merge commit: nothing applied")]
    private static partial void LogNoMergeCommit(ILogger logger, int number);
}
