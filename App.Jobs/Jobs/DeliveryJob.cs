using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.Events;
using Ensemble.Jobs.State;
using Hangfire;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Acts on one recorded webhook delivery. Reentrant: Hangfire delivers at least once, so every step checks state
/// first (a head is created once, discovery is enqueued only while the head is still being discovered).
/// </summary>
public sealed partial class DeliveryJob(
    IStateStore state, IBackgroundJobClient jobs, AggregatePublisher aggregates, Interactions interactions, TimeProvider time, ILogger<DeliveryJob> logger,
    ApplyCoordinator applies)
{
    private static readonly HashSet<string> PlanningActions = new(StringComparer.Ordinal) { "opened", "reopened", "synchronize", "ready_for_review" };

    [AutomaticRetry(Attempts = 5)]
    public async Task RunAsync(string deliveryId, CancellationToken cancellationToken)
    {
        var delivery = await state.GetDeliveryAsync(deliveryId, cancellationToken);
        if (delivery is null || delivery.ProcessedAt is not null)
        {
            return;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object?> { ["DeliveryId"] = deliveryId, ["Repository"] = delivery.Repository });
        var parsed = WebhookEventParser.Parse(delivery.Event, delivery.Payload);
        switch (parsed)
        {
            case PullRequestEvent pr when PlanningActions.Contains(pr.Action):
                await PlanHeadAsync(pr, cancellationToken);
                break;
            case PullRequestEvent { Action: "closed" } pr:
                await CloseAsync(pr, cancellationToken);
                break;
            case PullRequestEvent pr:
                LogIgnored(logger, $"pull_request.{pr.Action} needs no plan");
                break;
            case CheckRunEvent checkRun:
                await interactions.HandleAsync(checkRun, cancellationToken);
                break;
            case CheckSuiteEvent checkSuite:
                await interactions.HandleAsync(checkSuite, cancellationToken);
                break;
            case PullRequestCommentEvent comment:
                await interactions.HandleAsync(comment, cancellationToken);
                break;
            case PushEvent { MovesDefaultBranch: true } push:
                // Open pull requests into the default branch may now have stale plans; the job finds which.
                BaseMoveJob.Schedule(jobs, push.Repo, push.Branch!, push.Before, push.After, BaseMoveJob.SettleDelay);
                break;
            case PushEvent push:
                LogIgnored(logger, $"push to {push.Ref} does not move the default branch");
                break;
            case IgnoredEvent ignored:
                LogIgnored(logger, ignored.Reason);
                break;
        }

        await state.MarkDeliveryProcessedAsync(deliveryId, time.GetUtcNow(), cancellationToken);
    }

    private async Task PlanHeadAsync(PullRequestEvent pr, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var head = await state.UpsertHeadAsync(pr.Repo, pr.Number, pr.HeadSha, pr.BaseSha, pr.BaseRef, pr.Author, now, ct);

        // A newer head supersedes the older ones: their queued plans never start and their aggregate says why.
        foreach (var older in await state.ListHeadsAsync(pr.Repo, pr.Number, ct))
        {
            if (older.Id == head.Id || older.Status is HeadStatus.Superseded or HeadStatus.Closed)
            {
                continue;
            }

            await state.SetHeadStatusAsync(older.Id, HeadStatus.Superseded, older.Problems, now, ct);
            var supersede = new RunEvent.Supersede();
            foreach (var run in await state.ListRunsAsync(older.Id, ct))
            {
                // A running plan notices at its next progress tick and stops; a queued one never starts.
                await state.TransitionRunAsync(run.Id, RunStateMachine.SourcesOf(supersede),
                    new RunUpdate(RunStateMachine.TargetOf(supersede), now) { SetFinished = true }, ct);
            }
            await aggregates.PublishAsync(older.Id, ct);
        }

        if (head.Status == HeadStatus.Discovering)
        {
            // The aggregate appears at once, so the PR shows Ensemble is at work before git or terraform run.
            await aggregates.PublishAsync(head.Id, ct);
            jobs.Enqueue<DiscoverJob>(job => job.RunAsync(head.Id, CancellationToken.None));
        }
    }

    private async Task CloseAsync(PullRequestEvent pr, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var head in await state.ListHeadsAsync(pr.Repo, pr.Number, ct))
        {
            if (head.Status == HeadStatus.Closed)
            {
                continue;
            }

            await state.SetHeadStatusAsync(head.Id, HeadStatus.Closed, head.Problems, now, ct);
            var close = new RunEvent.Close(pr.Merged);
            foreach (var run in await state.ListRunsAsync(head.Id, ct))
            {
                // Approved runs of a merged PR stay approved: applying them is its own flow.
                await state.TransitionRunAsync(run.Id, RunStateMachine.SourcesOf(close),
                    new RunUpdate(RunStateMachine.TargetOf(close), now) { SetFinished = true }, ct);
            }
        }

        // Outside the loop: a retried or repeated delivery finds the heads closed but must still start the applies
        // (idempotent: the merge is recorded once and each run is applied at most once).
        if (pr.Merged)
        {
            await applies.OnMergedAsync(pr, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivery needs no action: {Reason}")]
    private static partial void LogIgnored(ILogger logger, string reason);
}
