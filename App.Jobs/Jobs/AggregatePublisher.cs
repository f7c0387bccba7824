using Ensemble.Jobs.Core;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Recomputes the aggregate check run <c>ensemble</c> of one head from state and publishes it. Runs under the head's
/// lock so two plans finishing together cannot publish out of order (an older view landing after a newer one).
/// </summary>
public sealed class AggregatePublisher(IStateStore state, IGitHubChecks checks, TimeProvider time)
{
    public async Task PublishAsync(long headId, CancellationToken cancellationToken)
    {
        await using var headLock = await state.LockHeadAsync(headId, cancellationToken);
        var head = await state.GetHeadAsync(headId, cancellationToken)
            ?? throw new InvalidOperationException($"Pull-request head {headId} is not in the state store.");
        var runs = await state.ListRunsAsync(headId, cancellationToken);
        var views = runs.Select(r => new ProjectStatusView(r.ProjectPath, r.Status, r.Summary, r.Destroy)).ToList();
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
        };

        if (head.AggregateCheckRunId is { } id)
        {
            await checks.UpdateCheckRunAsync(head.Repo, id, request with { StartedAt = null }, cancellationToken);
        }
        else
        {
            var created = await checks.CreateCheckRunAsync(head.Repo, request, cancellationToken);
            await state.SetHeadAggregateCheckRunAsync(head.Id, created, cancellationToken);
        }
    }
}
