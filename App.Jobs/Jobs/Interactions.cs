using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.Events;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;
using Hangfire;
using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// What people do in GitHub: Approve / Approve all / Re-plan buttons, "Re-run" on checks, and <c>/ensemble</c> comments.
/// Every decision comes from the pure core (state machine, approver policy, comment parser); this class only gathers
/// the facts (state, permissions) and shows the outcome. A refused click changes no state and says why, visibly.
/// </summary>
public sealed partial class Interactions(
    IStateStore state,
    IGitHubIssues issues,
    PermissionCache permissions,
    ApproverRequirements requirements,
    ProjectCheckRuns checkRuns,
    AggregatePublisher aggregates,
    Replans replans,
    IBackgroundJobClient jobs,
    TimeProvider time,
    ILogger<Interactions> logger,
    ApplyFallback applyFallback)
{
    public const string ApproveAll = "approve-all";
    public const string Replan = "replan";

    public async Task HandleAsync(CheckRunEvent e, CancellationToken ct)
    {
        if (e.Action == "requested_action")
        {
            switch (e.Identifier)
            {
                case "approve" when RunId(e.ExternalId) is { } runId:
                    await ApproveOneAsync(e, runId, ct);
                    break;
                case ApproveAll when HeadId(e.ExternalId) is { } headId:
                    await ApproveAllAsync(e, headId, ct);
                    break;
                case Replan when HeadId(e.ExternalId) is { } headId:
                    await ReplanHeadAsync(headId, e.HeadSha, null, $"Re-plan requested by @{e.Sender}", e.Sender, ct);
                    break;
                case ApplyFallback.Identifier when ApplyFallback.RunId(e.ExternalId) is { } postMergeRunId:
                    await applyFallback.HandleApplyClickAsync(e, postMergeRunId, ct);
                    break;
            }
        }
        else if (e.Action == "rerequested")
        {
            if (RunId(e.ExternalId) is { } runId && await state.GetRunAsync(runId, ct) is { } run)
            {
                await ReplanHeadAsync(run.HeadId, e.HeadSha, [run.ProjectPath], $"Re-run requested by @{e.Sender}", e.Sender, ct);
            }
            else if (HeadId(e.ExternalId) is { } headId)
            {
                await ReplanHeadAsync(headId, e.HeadSha, null, $"Re-run requested by @{e.Sender}", e.Sender, ct);
            }
        }
    }

    public async Task HandleAsync(CheckSuiteEvent e, CancellationToken ct)
    {
        if (e.Action != "rerequested")
        {
            return;
        }

        foreach (var head in await state.ListHeadsBySha(e.Repo, e.HeadSha, ct))
        {
            await ReplanHeadAsync(head.Id, e.HeadSha, null, $"Re-run of all checks requested by @{e.Sender}", e.Sender, ct);
        }
    }

    public async Task HandleAsync(PullRequestCommentEvent e, CancellationToken ct)
    {
        if (e.Action != "created" || string.Equals(e.AuthorType, "Bot", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var parsed = CommentParser.Parse(e.Body);
        if (parsed is ParsedComment.NotACommand)
        {
            return;
        }

        var permission = ApproverPolicy.ParsePermission(await permissions.PermissionAsync(e.Repo, e.Author, ct));
        if (permission < RepositoryPermission.Write)
        {
            await issues.AddReactionAsync(e.Repo, e.CommentId, "confused", ct);
            await issues.CreateCommentAsync(e.Repo, e.Number,
                $"@{e.Author} `/ensemble` commands need write, maintain or admin permission on this repository.", ct);
            return;
        }

        switch (parsed)
        {
            case ParsedComment.Help:
                await issues.AddReactionAsync(e.Repo, e.CommentId, "eyes", ct);
                await issues.CreateCommentAsync(e.Repo, e.Number, CommentParser.HelpText, ct);
                break;
            case ParsedComment.Invalid invalid:
                await issues.AddReactionAsync(e.Repo, e.CommentId, "confused", ct);
                await issues.CreateCommentAsync(e.Repo, e.Number, invalid.Reply, ct);
                break;
            case ParsedComment.Replan replan:
                var head = (await state.ListHeadsAsync(e.Repo, e.Number, ct)).LastOrDefault(h => h.Status is HeadStatus.Discovered or HeadStatus.DiscoveryFailed or HeadStatus.Discovering);
                if (head is null)
                {
                    await issues.AddReactionAsync(e.Repo, e.CommentId, "confused", ct);
                    await issues.CreateCommentAsync(e.Repo, e.Number, "Ensemble has no plans for this pull request yet; push a commit or reopen it to start planning.", ct);
                    return;
                }

                if (!replan.AllProjects)
                {
                    var known = (await state.ListRunsAsync(head.Id, ct)).Select(r => r.ProjectPath).ToList();
                    if (CommentParser.ValidateProjects(replan, known) is { } error)
                    {
                        await issues.AddReactionAsync(e.Repo, e.CommentId, "confused", ct);
                        await issues.CreateCommentAsync(e.Repo, e.Number, error, ct);
                        return;
                    }
                }

                await issues.AddReactionAsync(e.Repo, e.CommentId, "+1", ct);
                await ReplanHeadAsync(head.Id, head.HeadSha, replan.AllProjects ? null : replan.Projects, $"Re-plan requested by @{e.Author} in a comment", e.Author, ct);
                break;
        }
    }

    private async Task ApproveOneAsync(CheckRunEvent e, long runId, CancellationToken ct)
    {
        if (await state.GetRunAndHeadAsync(runId, ct) is not (var run, var head))
        {
            return;
        }

        var outcome = await TryApproveAsync(head, run, e.Sender, e.HeadSha, ct);
        if (outcome is not null)
        {
            await ShowRefusalAsync(head, run, e.Sender, outcome, ct);
        }

        await aggregates.PublishAsync(head.Id, ct);
    }

    private async Task ApproveAllAsync(CheckRunEvent e, long headId, CancellationToken ct)
    {
        var head = await state.GetHeadAsync(headId, ct);
        if (head is null)
        {
            return;
        }

        var refusals = new List<string>();
        foreach (var run in await state.ListRunsAsync(head.Id, ct))
        {
            if (run.Status != RunStatus.AwaitingApproval)
            {
                continue;
            }

            if (await TryApproveAsync(head, run, e.Sender, e.HeadSha, ct) is { } reason)
            {
                refusals.Add($"- `{run.ProjectPath}`: {reason}");
            }
        }

        if (refusals.Count > 0)
        {
            await issues.CreateCommentAsync(head.Repo, head.Number,
                $"@{e.Sender} **Approve all** approved every project you may approve; these were not approved:\n\n{string.Join("\n", refusals)}", ct);
        }

        await aggregates.PublishAsync(head.Id, ct);
    }

    /// <summary>Approves the run's current plan if the clicker may; returns the refusal reason otherwise (nothing changed).</summary>
    private async Task<string?> TryApproveAsync(PullRequestHead head, ProjectRun run, string user, string clickedHeadSha, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var headSha = head.Status is HeadStatus.Superseded or HeadStatus.Closed ? "(superseded)" : head.HeadSha;
        var transition = RunStateMachine.Transition(new RunSnapshot(run.Status, run.Fingerprint, headSha),
            new RunEvent.Approve(new Approver(user), now, ApprovalKind.Manual, run.Fingerprint ?? "-", clickedHeadSha));
        if (transition is TransitionResult.Refused refused)
        {
            return refused.Reason;
        }

        var requirement = await requirements.ForAsync(head, run.ProjectPath, ct);
        var teams = requirement.Teams.Count == 0 ? [] : await permissions.TeamsAsync(head.Repo, user, requirement.Teams, ct);
        var decision = ApproverPolicy.Decide(new ApprovalRequest(
            user, await permissions.PermissionAsync(head.Repo, user, ct), teams, head.Author, run.ProjectPath, requirement));
        if (decision is ApproverDecision.Refused policyRefusal)
        {
            return policyRefusal.Reason;
        }

        var approval = new Approval(user, Automatic: false, now);
        if (!await state.ApproveRunAsync(run.Id, run.Fingerprint!, approval, now, ct))
        {
            return "the plan changed or was approved while you clicked; look at the latest plan";
        }

        LogApproved(logger, run.ProjectPath, user);
        var approved = (await state.GetRunAsync(run.Id, ct))!;
        await checkRuns.PublishAsync(head, approved, await checkRuns.RenderStoredPlanAsync(head, approved, ct),
            ProjectCheckRuns.ApprovalNote(approval, approved.Fingerprint!), ct);
        return null;
    }

    /// <summary>A refusal is shown where the person looks: on the check run (button kept) and as a PR comment.</summary>
    private async Task ShowRefusalAsync(PullRequestHead head, ProjectRun run, string user, string reason, CancellationToken ct)
    {
        LogRefused(logger, run.ProjectPath, user, reason);
        var requirement = await requirements.ForAsync(head, run.ProjectPath, ct);
        var who = ApproverPolicy.DescribeWhoMayApprove(requirement);
        var text = $"⚠️ Approval by @{user} was refused: {reason}. Who may approve: {who}.";
        if (run.Status == RunStatus.AwaitingApproval && head.Status == HeadStatus.Discovered && run.CheckRunId is not null)
        {
            await checkRuns.PublishAsync(head, run, await checkRuns.RenderStoredPlanAsync(head, run, ct), text, ct);
        }

        await issues.CreateCommentAsync(head.Repo, head.Number, $"`{MarkdownText.Escape(run.ProjectPath, 200)}`: {text}", ct);
    }

    /// <summary>Re-plans the named projects (null = all) of a head: a fresh check run each, then a plan job.</summary>
    private async Task ReplanHeadAsync(long headId, string clickedHeadSha, IReadOnlyList<string>? projects, string reason, string user, CancellationToken ct)
    {
        var head = await state.GetHeadAsync(headId, ct);
        if (head is null || head.HeadSha != clickedHeadSha || head.Status is HeadStatus.Superseded or HeadStatus.Closed)
        {
            return;
        }

        if (head.Status == HeadStatus.DiscoveryFailed)
        {
            // Nothing was planned: discover again (after a fix on the default branch, or a transient git failure).
            await state.SetHeadStatusAsync(head.Id, HeadStatus.Discovering, null, time.GetUtcNow(), ct);
            await aggregates.PublishAsync(head.Id, ct);
            jobs.Enqueue<DiscoverJob>(job => job.RunAsync(head.Id, CancellationToken.None));
            return;
        }

        var queued = new StringBuilder();
        foreach (var run in await state.ListRunsAsync(head.Id, ct))
        {
            if ((projects is null || projects.Contains(run.ProjectPath, StringComparer.Ordinal)) && await replans.RequeueAsync(head, run, reason, ct))
            {
                queued.Append(run.ProjectPath).Append(' ');
            }
        }

        LogReplan(logger, queued.ToString().Trim(), user);
        await aggregates.PublishAsync(head.Id, ct);
    }

    private static long? RunId(string? externalId) =>
        externalId is not null && externalId.StartsWith("run-", StringComparison.Ordinal) && long.TryParse(externalId.AsSpan(4), out var id) ? id : null;

    private static long? HeadId(string? externalId) =>
        externalId is not null && externalId.StartsWith("head-", StringComparison.Ordinal) && long.TryParse(externalId.AsSpan(5), out var id) ? id : null;

    [LoggerMessage(Level = LogLevel.Information, Message = "Plan of {Project} approved by {User}")]
    private static partial void LogApproved(ILogger logger, string project, string user);

    [LoggerMessage(Level = LogLevel.Information, Message = "Approval of {Project} by {User} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string project, string user, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-plan of [{Projects}] requested by {User}")]
    private static partial void LogReplan(ILogger logger, string projects, string user);
}

/// <summary>
/// Who may approve a project's plans. Without <c>.ensemble.yml</c> rules: users with write, maintain or admin, never
/// the PR's author. Rules come from the PR's base commit only (<see cref="RepoConfigs"/>): a PR cannot widen its own approvers.
/// </summary>
public sealed class ApproverRequirements(RepoConfigs configs)
{
    public async Task<ApproverRequirement> ForAsync(PullRequestHead head, string projectPath, CancellationToken ct)
    {
        var config = await configs.EffectiveAsync(head.Repo, head.Number, head.BaseSha, head.HeadSha, ct);
        if (!config.IsValid)
        {
            return ApproverRequirement.Default;
        }

        var policy = config.ApprovalFor(projectPath);
        return new ApproverRequirement(policy.Users, policy.Teams, policy.AllowSelfApproval, policy.Source);
    }
}
