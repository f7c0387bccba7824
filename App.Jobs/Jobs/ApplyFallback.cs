using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.Events;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;
using Hangfire;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// The post-merge approval (DESIGN.md, "Approval and apply rules"): when an approved plan is refused or fails after
/// the merge, Ensemble plans the merge commit and shows that plan on a check run of the merge commit with an
/// <c>apply</c> button; a click by someone who may approve applies exactly that plan, once.
/// </summary>
/// <remarks>
/// The merge-commit plans live on a head row of their own: same pull request, head SHA = the merge commit, status
/// <c>closed</c> from the start, so nothing of the PR flow (supersede, close, re-plan, aggregate) ever touches them.
/// Its merge record points at the same merge commit, so <see cref="ApplyJob"/> applies it with the same checks.
/// </remarks>
public sealed partial class ApplyFallback(
    IStateStore state,
    IGitHubChecks checks,
    IGitHubIssues issues,
    PermissionCache permissions,
    ApproverRequirements requirements,
    IBackgroundJobClient jobs,
    TimeProvider time,
    ILogger<ApplyFallback> logger)
{
    /// <summary>The button on a merge-commit plan (identifier ≤ 20 characters).</summary>
    public const string Identifier = "apply";

    public static readonly CheckRunAction ApplyAction = new(Identifier, "Apply", "Apply this plan of the merge commit");

    public static string ExternalId(long runId) => $"postmerge-{runId}";

    public static long? RunId(string? externalId) =>
        externalId is not null && externalId.StartsWith("postmerge-", StringComparison.Ordinal) && long.TryParse(externalId.AsSpan(10), out var id) ? id : null;

    /// <summary>True for the head row that holds a merge's post-merge plans.</summary>
    public static bool IsPostMergeHead(PullRequestHead head, MergeRecord merge) =>
        string.Equals(head.HeadSha, merge.MergeSha, StringComparison.OrdinalIgnoreCase);

    /// <summary>Queues a plan of the merge commit for the project of a refused or failed apply. Idempotent per (merge, project).</summary>
    public async Task RequestAsync(PullRequestHead head, MergeRecord merge, ProjectRun run, string reason, CancellationToken ct)
    {
        if (run.Destroy || IsPostMergeHead(head, merge))
        {
            // A deleted project has nothing to plan in the merge commit; a failed post-merge apply is not planned again automatically.
            return;
        }

        var now = time.GetUtcNow();
        var postMerge = await state.UpsertHeadAsync(head.Repo, head.Number, merge.MergeSha, merge.MergeSha, head.BaseRef, head.Author, now, ct);
        if (postMerge.Status != HeadStatus.Closed)
        {
            await state.SetHeadStatusAsync(postMerge.Id, HeadStatus.Closed, $"post-merge plans of #{head.Number}", now, ct);
        }

        await state.RecordMergeAsync(postMerge.Id, merge.MergeSha, now, ct);
        var planned = await state.AddRunAsync(postMerge.Id, run.ProjectPath, false, merge.MergeSha, $"Post-merge plan: {reason}", now, ct);
        if (planned.Status != RunStatus.Queued)
        {
            return;
        }

        if (planned.CheckRunId is null)
        {
            var id = await checks.CreateCheckRunAsync(head.Repo, new CheckRunRequest
            {
                Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
                HeadSha = merge.MergeSha,
                Status = CheckStatus.Queued,
                ExternalId = ExternalId(planned.Id),
                Output = new CheckRunOutput("Queued: post-merge plan",
                    $"The plan approved in #{head.Number} was not applied ({reason}). Ensemble plans the merge commit so that it can be approved and applied here."),
            }, ct);
            await state.SetRunCheckRunAsync(planned.Id, id, ct);
        }

        jobs.Enqueue<ApplyFallbackPlanJob>(job => job.RunAsync(planned.Id, CancellationToken.None));
    }

    /// <summary>A click on <c>apply</c>: the approver rules of the PR apply; the approval is recorded and the apply queued.</summary>
    public async Task HandleApplyClickAsync(CheckRunEvent e, long runId, CancellationToken ct)
    {
        if (await state.GetRunAndHeadAsync(runId, ct) is not (var run, var head)
            || await state.GetMergeByHeadAsync(head.Id, ct) is not { } merge || !IsPostMergeHead(head, merge))
        {
            return;
        }

        var now = time.GetUtcNow();
        string? refusal = null;
        var transition = RunStateMachine.Transition(new RunSnapshot(run.Status, run.Fingerprint, head.HeadSha),
            new RunEvent.Approve(new Approver(e.Sender), now, ApprovalKind.Manual, run.Fingerprint ?? "-", e.HeadSha));
        if (transition is TransitionResult.Refused refused)
        {
            refusal = refused.Reason;
        }
        else
        {
            var requirement = await requirements.ForAsync(head, run.ProjectPath, ct);
            var teams = requirement.Teams.Count == 0 ? [] : await permissions.TeamsAsync(head.Repo, e.Sender, requirement.Teams, ct);
            var decision = ApproverPolicy.Decide(new ApprovalRequest(
                e.Sender, await permissions.PermissionAsync(head.Repo, e.Sender, ct), teams, head.Author, run.ProjectPath, requirement));
            if (decision is ApproverDecision.Refused policy)
            {
                refusal = $"{policy.Reason}. Who may approve: {ApproverPolicy.DescribeWhoMayApprove(requirement)}";
            }
            else if (!await state.ApproveRunAsync(run.Id, run.Fingerprint!, new Approval(e.Sender, Automatic: false, now), now, ct))
            {
                refusal = "the plan changed or was approved while you clicked";
            }
        }

        if (refusal is not null)
        {
            LogRefused(logger, run.ProjectPath, e.Sender, refusal);
            await issues.CreateCommentAsync(head.Repo, head.Number,
                $"`{MarkdownText.Escape(run.ProjectPath, 200)}`: ⚠️ **Apply** of the post-merge plan by @{e.Sender} was refused: {refusal}.", ct);
            return;
        }

        LogApproved(logger, run.ProjectPath, e.Sender);
        jobs.Enqueue<ApplyJob>(job => job.RunAsync(run.Id, null, CancellationToken.None));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Post-merge apply of {Project} requested by {User}")]
    private static partial void LogApproved(ILogger logger, string project, string user);

    [LoggerMessage(Level = LogLevel.Information, Message = "Post-merge apply of {Project} by {User} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string project, string user, string reason);
}
