using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Recomputes the aggregate check run <c>ensemble</c> of one head from state and publishes it. Runs under the head's
/// lock so two plans finishing together cannot publish out of order (an older view landing after a newer one).
/// </summary>
public sealed class AggregatePublisher(IStateStore state, IGitHubChecks checks, ApproverRequirements requirements, TimeProvider time)
{
    public static readonly CheckRunAction ApproveAllAction = new(Interactions.ApproveAll, "Approve all", "Approve every plan you may approve");
    public static readonly CheckRunAction ReplanAction = new(Interactions.Replan, "Re-plan", "Plan every project of this commit again");

    public async Task PublishAsync(long headId, CancellationToken cancellationToken)
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
