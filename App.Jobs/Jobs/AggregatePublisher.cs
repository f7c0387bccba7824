using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;
using Hangfire;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Recomputes the aggregate check run <c>ensemble</c> of one head from state and publishes it. Runs under the head's
/// lock so two plans finishing together cannot publish out of order (an older view landing after a newer one).
/// </summary>
public sealed class AggregatePublisher(
    IStateStore state, IGitHubChecks checks, ApproverRequirements requirements, PublishMemos memos, IBackgroundJobClient jobs, TimeProvider time)
{
    public static readonly CheckRunAction ApproveAllAction = new(Interactions.ApproveAll, "Approve all", "Approve every plan you may approve");
    public static readonly CheckRunAction ReplanAction = new(Interactions.Replan, "Re-plan", "Plan every project of this commit again");

    /// <summary>
    /// Publishes the head's aggregate as state has it now, through <see cref="PublishGate"/>: unchanged views are not
    /// sent again, and interim views (plans or applies under way) at most once per <see cref="PlanJob.ProgressInterval"/>,
    /// with a scheduled catch-up so the latest one is shown.
    /// </summary>
    public async Task PublishAsync(long headId, CancellationToken cancellationToken)
    {
        if (await state.GetHeadAsync(headId, cancellationToken) is { } head && await DeferredWhilePlanningAsync(head, cancellationToken))
        {
            return;
        }

        await PublishNowAsync(headId, cancellationToken);
    }

    /// <summary>
    /// The same, for a caller that read <paramref name="known"/> moments ago (a plan job): it decides whether an interim
    /// view is deferred without reading the head again. A head superseded since then at worst defers once; the
    /// catch-up and the superseding push publish what it really is.
    /// </summary>
    public async Task PublishAsync(PullRequestHead known, CancellationToken cancellationToken)
    {
        if (!await DeferredWhilePlanningAsync(known, cancellationToken))
        {
            await PublishNowAsync(known.Id, cancellationToken);
        }
    }

    private async Task PublishNowAsync(long headId, CancellationToken cancellationToken)
    {
        await using var headLock = await state.LockHeadAsync(headId, cancellationToken);
        var head = await state.GetHeadAsync(headId, cancellationToken)
            ?? throw new InvalidOperationException($"Pull-request head {headId} is not in the state store.");
        var runs = await state.ListRunsAsync(headId, cancellationToken);
        var views = new List<ProjectStatusView>(runs.Count);
        foreach (var r in runs)
        {
            var who = r.Status == RunStatus.AwaitingApproval
                ? ApproverPolicy.DescribeWhoMayApprove(await requirements.ForAsync(head, r.ProjectPath, cancellationToken)) + $" (not @{head.Author}, the author)"
                : null;
            views.Add(new ProjectStatusView(r.ProjectPath, r.Status, r.Summary, r.Destroy, who));
        }

        var result = AggregateStatus.Compute(head.Status, views, head.Problems);
        var now = time.GetUtcNow();
        var request = new CheckRunRequest
        {
            Name = AggregateStatus.CheckName,
            HeadSha = head.HeadSha,
            Status = result.Status,
            Conclusion = result.Conclusion,
            Output = result.Output,
            ExternalId = $"head-{head.Id}",
            StartedAt = result.Status == CheckStatus.Queued ? null : now,
            CompletedAt = result.Status == CheckStatus.Completed ? now : null,
            Actions = result.Conclusion switch
            {
                CheckConclusion.ActionRequired => [ApproveAllAction, ReplanAction],
                CheckConclusion.Failure when head.Status == HeadStatus.Discovered || head.Status == HeadStatus.DiscoveryFailed => [ReplanAction],
                _ => [],
            },
        };

        var digest = Digest(request);
        if (head.AggregateCheckRunId is not { } id)
        {
            var created = await checks.CreateCheckRunAsync(head.Repo, request, cancellationToken);
            await state.SetHeadAggregateCheckRunAsync(head.Id, created, cancellationToken);
            await memos.SentAsync(Target(created), digest, result.IsInterim, cancellationToken);
            return;
        }

        if (await memos.ShouldSendAsync(Target(id), digest, result.IsInterim, CatchUp(headId), cancellationToken))
        {
            await checks.UpdateCheckRunAsync(head.Repo, id, request with { StartedAt = null }, cancellationToken);
            await memos.SentAsync(Target(id), digest, result.IsInterim, cancellationToken);
        }
    }

    /// <summary>
    /// While plans are under way the aggregate is interim, and one shown less than an interval ago stays (a catch-up
    /// is scheduled): known from one small read, without listing every run and rendering the table. Otherwise each
    /// finished plan of an n-project pull request would read and render all n runs only for the gate to drop the
    /// result (n² work: 2 × 10⁶ rows for 1,000 projects). Outside the head's lock, as it publishes nothing; the last
    /// plan to finish always sees none under way (its own change is committed first) and publishes the final view.
    /// </summary>
    private async Task<bool> DeferredWhilePlanningAsync(PullRequestHead head, CancellationToken ct) =>
        head is { AggregateCheckRunId: { } id, Status: HeadStatus.Discovered or HeadStatus.Closed }
        && await memos.DefersWhilePlanningAsync(head.Id, Target(id), CatchUp(head.Id), ct);

    /// <summary>Schedules this head's republish after a delay: the catch-up of a deferred interim view.</summary>
    private Action<TimeSpan> CatchUp(long headId) =>
        delay => jobs.Schedule<AggregatePublisher>(p => p.PublishAsync(headId, CancellationToken.None), delay);

    private static string Target(long checkRunId) => $"check-run:{checkRunId}";

    private static string Digest(CheckRunRequest r) => PublishGate.Digest(
        r.Status.ToString(), r.Conclusion?.ToString(), r.Output?.Title, r.Output?.Summary, r.Output?.Text, string.Join(',', r.Actions.Select(a => a.Identifier)));
}
