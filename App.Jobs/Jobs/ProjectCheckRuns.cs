using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.Plans;
using Ensemble.Jobs.State;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// The check run <c>ensemble: &lt;project&gt;</c> of a finished plan, as the run's state says it should look: the rendered
/// plan (from the stored <c>show -json</c>), its conclusion, the Approve button while approval is missing, and a note
/// on top saying who approved it or why a click was refused.
/// </summary>
public sealed class ProjectCheckRuns(IArtifactStore artifacts, IGitHubChecks checks, IFullPlanLinks links, TimeProvider time)
{
    public static readonly CheckRunAction ApproveAction = new("approve", "Approve", "Approve this plan for apply after merge");

    public async Task<CheckRunOutput> RenderStoredPlanAsync(PullRequestHead head, ProjectRun run, CancellationToken ct)
    {
        var key = ArtifactKeys.For(head.Repo, head.Number, run.ProjectPath, head.HeadSha, ArtifactKeys.PlanJson);
        await using var stream = await artifacts.OpenReadAsync(key, ct)
            ?? throw new InvalidOperationException($"The plan JSON of {run.ProjectPath} is missing from the artifact store ({key}).");
        var parsed = await PlanDocument.ParseAsync(stream, ct);
        return parsed.Plan is { } plan
            ? PlanRenderer.Render(plan, new PlanRenderContext(run.ProjectPath, links.UrlFor(key), run.Destroy))
            : throw new InvalidOperationException($"The stored plan JSON of {run.ProjectPath} cannot be read: {parsed.Error}");
    }

    /// <summary>Publishes the finished plan's check run for the run's current state, with an optional note on top.</summary>
    public async Task PublishAsync(PullRequestHead head, ProjectRun run, CheckRunOutput plan, string? note, CancellationToken ct)
    {
        var (conclusion, actions) = run.Status switch
        {
            RunStatus.AwaitingApproval => (CheckConclusion.ActionRequired, (IReadOnlyList<CheckRunAction>)[ApproveAction]),
            RunStatus.Approved or RunStatus.NoChanges => (CheckConclusion.Success, []),
            RunStatus.Superseded or RunStatus.Abandoned => (CheckConclusion.Cancelled, []),
            _ => (CheckConclusion.Failure, []),
        };
        var title = run.Status == RunStatus.Approved ? $"Approved · {plan.Title}" : plan.Title;
        var summary = string.IsNullOrEmpty(note) ? plan.Summary : $"> {note}\n\n{plan.Summary}";
        await checks.UpdateCheckRunAsync(head.Repo, run.CheckRunId!.Value, new CheckRunRequest
        {
            Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
            HeadSha = head.HeadSha,
            Status = CheckStatus.Completed,
            Conclusion = conclusion,
            Output = plan with { Title = Cut(title, 250), Summary = summary },
            ExternalId = $"run-{run.Id}",
            CompletedAt = time.GetUtcNow(),
            Actions = actions,
        }, ct);
    }

    /// <summary>A fresh check run for a re-plan (GitHub shows the newest run of a name), queued with the reason.</summary>
    public async Task<long> CreateQueuedAsync(PullRequestHead head, ProjectRun run, string reason, CancellationToken ct) =>
        await checks.CreateCheckRunAsync(head.Repo, new CheckRunRequest
        {
            Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
            HeadSha = head.HeadSha,
            Status = CheckStatus.Queued,
            ExternalId = $"run-{run.Id}",
            Output = new CheckRunOutput("Queued: waiting for a worker", $"{reason}\n\nThe plan for `{run.ProjectPath}` waits for a free Ensemble worker."),
        }, ct);

    public static string ApprovalNote(Approval approval, string fingerprint) => approval.Automatic
        ? $"✅ Auto-approved: identical to the plan approved by @{approval.ApprovedBy} at {Stamp(approval.At)} (fingerprint `{fingerprint[..12]}`)."
        : $"✅ Approved by @{approval.ApprovedBy} at {Stamp(approval.At)} (fingerprint `{fingerprint[..12]}`).";

    public static string Stamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);

    private static string Cut(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";
}
