using System.Globalization;
using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;
using Hangfire;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Shows applies where people look: the check run <c>ensemble: &lt;project&gt;</c> on the merge commit (live, then the
/// outcome), the project's check run on the PR head ("Applied at … by merge of #N" or the failure), and one PR
/// comment for the whole merge, created once and edited in place.
/// </summary>
public sealed class ApplyReporter(
    IStateStore state, IGitHubChecks checks, IGitHubIssues issues, ProjectCheckRuns checkRuns, PublishMemos memos, IBackgroundJobClient jobs,
    TimeProvider time)
{
    /// <summary>
    /// The merge commit's check run of a run: created in progress with the current <paramref name="phase"/> and output
    /// unless it has one. Applies create it at their first progress report, so a quick apply costs one request
    /// (created when finished) and a slow one shows progress within <see cref="PlanJob.ProgressInterval"/>.
    /// </summary>
    public async Task<long> StartMergeCheckRunAsync(PullRequestHead head, MergeRecord merge, ProjectRun run, string phase, IReadOnlyCollection<string> tail, CancellationToken ct)
    {
        if ((await state.GetApplyAsync(run.Id, ct))?.MergeCheckRunId is { } existing)
        {
            return existing;
        }

        if (ApplyFallback.IsPostMergeHead(head, merge) && run.CheckRunId is { } own)
        {
            // A post-merge plan's check run is already on the merge commit: the apply continues on it.
            await state.SetApplyCheckRunAsync(run.Id, own, ct);
            return own;
        }

        var id = await checks.CreateCheckRunAsync(head.Repo, new CheckRunRequest
        {
            Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
            HeadSha = merge.MergeSha,
            Status = CheckStatus.InProgress,
            ExternalId = ApplyExternalId(head, merge, run),
            StartedAt = time.GetUtcNow(),
            Output = ProgressOutput(head, run, phase, tail),
        }, ct);
        await state.SetApplyCheckRunAsync(run.Id, id, ct);
        return id;
    }

    /// <summary>Live output on the merge commit's check run while terraform applies; creates the check run the first time.</summary>
    public async Task<long> ProgressAsync(PullRequestHead head, MergeRecord merge, ProjectRun run, long? checkRunId, string phase, IReadOnlyCollection<string> tail, CancellationToken ct)
    {
        if (checkRunId is not { } id)
        {
            id = await StartMergeCheckRunAsync(head, merge, run, phase, tail, ct);
            if (id != run.CheckRunId)
            {
                return id; // created showing this progress; a post-merge plan's own check run still needs the update
            }
        }

        await checks.UpdateCheckRunAsync(head.Repo, id, new CheckRunRequest
        {
            Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
            HeadSha = merge.MergeSha,
            Status = CheckStatus.InProgress,
            ExternalId = ApplyExternalId(head, merge, run),
            Output = ProgressOutput(head, run, phase, tail),
        }, ct);
        return id;
    }

    private static CheckRunOutput ProgressOutput(PullRequestHead head, ProjectRun run, string phase, IReadOnlyCollection<string> tail) =>
        new($"{phase}…",
            $"**{phase}** for the plan approved in #{head.Number} (commit `{Short(run.PlanSha)}`).",
            tail.Count == 0 ? null : Fenced("Latest output:", string.Join('\n', tail)));

    /// <summary>Shows a finished apply (any outcome) on both check runs.</summary>
    public async Task FinishAsync(PullRequestHead head, MergeRecord merge, ProjectRun run, ApplyOutcome outcome, string message, string? logTail, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var success = outcome == ApplyOutcome.Applied;
        var title = Title(outcome, run.ProjectPath);
        var summary = new StringBuilder()
            .Append(Icon(outcome)).Append(' ').Append(message).Append("\n\n")
            .Append("Pull request #").Append(head.Number).Append(" merged as `").Append(Short(merge.MergeSha)).Append("`; plan of commit `")
            .Append(Short(run.PlanSha)).Append("`.")
            .Append(WhatToDo(outcome) is { } todo ? "\n\n**What to do:** " + todo : "")
            .ToString();
        var text = logTail is null ? null : Fenced("Output of terraform (the full log is stored as `apply.log`):", logTail);

        var mergeCheckRunId = (await state.GetApplyAsync(run.Id, ct))?.MergeCheckRunId;
        var request = new CheckRunRequest
        {
            Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
            HeadSha = merge.MergeSha,
            Status = CheckStatus.Completed,
            Conclusion = success ? CheckConclusion.Success : CheckConclusion.Failure,
            ExternalId = ApplyExternalId(head, merge, run),
            CompletedAt = now,
            Output = new CheckRunOutput(title, summary, text),
        };
        if (mergeCheckRunId is { } id)
        {
            await checks.UpdateCheckRunAsync(head.Repo, id, request, ct);
        }
        else
        {
            var created = await checks.CreateCheckRunAsync(head.Repo, request with { StartedAt = now }, ct);
            await state.SetApplyCheckRunAsync(run.Id, created, ct);
        }

        if (run.CheckRunId is not { } prCheckRun || prCheckRun == mergeCheckRunId)
        {
            return;
        }

        // The PR's check run keeps the plan it showed, with the outcome on top.
        var headline = success
            ? $"Applied at {ProjectCheckRuns.Stamp(now)} by merge of #{head.Number}"
            : $"{Title(outcome, run.ProjectPath)} after merge of #{head.Number}";
        CheckRunOutput plan;
        try
        {
            plan = await checkRuns.RenderStoredPlanAsync(head, run, ct);
        }
        catch (InvalidOperationException e)
        {
            plan = new CheckRunOutput(headline, $"The stored plan cannot be shown: {e.Message}");
        }

        await checks.UpdateCheckRunAsync(head.Repo, prCheckRun, new CheckRunRequest
        {
            Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
            HeadSha = head.HeadSha,
            Status = CheckStatus.Completed,
            Conclusion = success ? CheckConclusion.Success : CheckConclusion.Failure,
            ExternalId = $"run-{run.Id}",
            CompletedAt = now,
            Output = plan with { Title = Cut(headline, 250), Summary = WithNote($"> {Icon(outcome)} {Cut(message, 2_000)}", plan.Summary) },
        }, ct);
    }

    /// <summary>Creates or edits the merge's one PR comment from state. Serialised per head so two applies ending together make one comment.</summary>
    public async Task PublishCommentAsync(PullRequestHead head, CancellationToken ct)
    {
        // The comment belongs to the merged head; a post-merge plan's head adds its rows to the same comment.
        var heads = await state.ListHeadsAsync(head.Repo, head.Number, ct);
        var merges = new Dictionary<long, MergeRecord>();
        foreach (var h in heads)
        {
            if (await state.GetMergeByHeadAsync(h.Id, ct) is { } m)
            {
                merges[h.Id] = m;
            }
        }

        var merged = heads.FirstOrDefault(h => merges.TryGetValue(h.Id, out var m) && !ApplyFallback.IsPostMergeHead(h, m)
            && (h.Id == head.Id || string.Equals(m.MergeSha, head.HeadSha, StringComparison.OrdinalIgnoreCase)));
        if (merged is null)
        {
            return;
        }

        await using var headLock = await state.LockHeadAsync(merged.Id, ct);
        var merge = (await state.GetMergeByHeadAsync(merged.Id, ct))!;
        var rows = new List<ApplyRow>();
        foreach (var h in heads.Where(h => h.Id == merged.Id || (merges.TryGetValue(h.Id, out var m) && ApplyFallback.IsPostMergeHead(h, m) && m.MergeSha == merge.MergeSha)))
        {
            var applies = (await state.ListAppliesAsync(merges[h.Id].Id, ct)).ToDictionary(a => a.RunId);
            rows.AddRange((await state.ListRunsAsync(h.Id, ct))
                .Where(r => r.Status != RunStatus.NoChanges || h.Id != merged.Id)
                .Select(r => new ApplyRow(r, applies.GetValueOrDefault(r.Id), PostMerge: h.Id != merged.Id)));
        }
        if (rows.Count == 0)
        {
            return;
        }

        var body = RenderComment(head.Number, merge.MergeSha, rows);
        var digest = PublishGate.Digest(body);
        // While applies are still running the comment is interim (edited at most every few seconds, the latest view
        // following); a failure or the last result is shown at once.
        var interim = rows.Any(r => r.Run.Status is RunStatus.Approved or RunStatus.Applying or RunStatus.Queued or RunStatus.Planning)
            && !rows.Any(r => r.Run.Status is RunStatus.ApplyFailed or RunStatus.Failed);
        if (merge.CommentId is not { } commentId)
        {
            var created = await issues.CreateCommentAsync(head.Repo, head.Number, body, ct);
            await state.SetMergeCommentAsync(merge.Id, created, ct);
            await memos.SentAsync(CommentTarget(created), digest, interim, ct);
            return;
        }

        var headId = merged.Id;
        if (await memos.ShouldSendAsync(CommentTarget(commentId), digest, interim,
                delay => jobs.Schedule<ApplyReporter>(r => r.PublishCommentAsync(headId, CancellationToken.None), delay), ct))
        {
            await issues.UpdateCommentAsync(head.Repo, commentId, body, ct);
            await memos.SentAsync(CommentTarget(commentId), digest, interim, ct);
        }
    }

    /// <summary>The scheduled catch-up of a deferred comment update.</summary>
    public async Task PublishCommentAsync(long headId, CancellationToken ct)
    {
        if (await state.GetHeadAsync(headId, ct) is { } head)
        {
            await PublishCommentAsync(head, ct);
        }
    }

    private static string CommentTarget(long commentId) => $"comment:{commentId}";

    /// <param name="PostMerge">A plan of the merge commit (post-merge approval), not the PR's own plan.</param>
    public sealed record ApplyRow(ProjectRun Run, ApplyRecord? Apply, bool PostMerge = false);

    /// <summary>The merge comment: one line per project with changes, in path order. Pure.</summary>
    public static string RenderComment(int number, string mergeSha, IReadOnlyList<ApplyRow> rows)
    {
        var sb = new StringBuilder()
            .Append("### Ensemble apply · merge of #").Append(number.ToString(CultureInfo.InvariantCulture))
            .Append(" as `").Append(Short(mergeSha)).Append("`\n\n")
            .Append("| Project | Result | Details |\n|---|---|---|\n");
        foreach (var (run, apply, postMerge) in rows.OrderBy(r => r.Run.ProjectPath, StringComparer.Ordinal).ThenBy(r => r.PostMerge))
        {
            var (result, details) = (run.Status, apply?.Outcome) switch
            {
                (RunStatus.Queued or RunStatus.Planning, _) when postMerge => ("🔄 planning", "planning the merge commit"),
                (RunStatus.AwaitingApproval, _) when postMerge => ("✋ needs approval", "press **Apply** on its check run on the merge commit"),
                (RunStatus.Failed, _) when postMerge => ("❌ plan failed", run.Error ?? ""),
                (RunStatus.NoChanges, _) when postMerge => ("✅ nothing to apply", "the merge commit has no changes for it"),
                (RunStatus.Applied, _) => ("✅ applied", run.Summary ?? ""),
                (RunStatus.Applying, _) => ("🚀 applying", ""),
                (RunStatus.Approved, _) => ("⏳ waiting", "queued for apply"),
                (RunStatus.ApplyFailed, { } outcome) => (Icon(outcome) + " " + Title(outcome, null).ToLowerInvariant(), apply!.Message ?? ""),
                (RunStatus.ApplyFailed, null) => ("❌ apply failed", run.Error ?? ""),
                (RunStatus.Abandoned, _) => ("⏭️ not applied", "merged without an approved plan"),
                _ => ("⏭️ not applied", run.Status.ToDb()),
            };
            sb.Append("| `").Append(MarkdownText.Escape(run.ProjectPath, 200)).Append('`').Append(postMerge ? " (post-merge plan)" : "").Append(" | ")
              .Append(result).Append(" | ")
              .Append(Cell(details)).Append(" |\n");
        }

        sb.Append("\nEach project's check run on the merge commit has its output.");
        return sb.ToString();
    }

    /// <summary>A post-merge plan's check run keeps its own id (its button must keep working); others are "apply-N".</summary>
    private static string ApplyExternalId(PullRequestHead head, MergeRecord merge, ProjectRun run) =>
        ApplyFallback.IsPostMergeHead(head, merge) ? ApplyFallback.ExternalId(run.Id) : $"apply-{run.Id}";

    private static string Title(ApplyOutcome outcome, string? project)
    {
        var title = outcome switch
        {
            ApplyOutcome.Applied => "Applied",
            ApplyOutcome.Failed => "Apply failed",
            ApplyOutcome.Refused => "Apply refused",
            ApplyOutcome.Stale => "Saved plan is stale",
            ApplyOutcome.Interrupted => "Apply interrupted",
            ApplyOutcome.Blocked => "Not applied",
            _ => outcome.ToString(),
        };
        return project is null ? title : $"{title}: {project}";
    }

    private static string Icon(ApplyOutcome outcome) => outcome switch
    {
        ApplyOutcome.Applied => "✅",
        ApplyOutcome.Refused or ApplyOutcome.Blocked => "⛔",
        ApplyOutcome.Stale => "⚠️",
        _ => "❌",
    };

    private static string? WhatToDo(ApplyOutcome outcome) => outcome switch
    {
        ApplyOutcome.Refused =>
            "nothing was applied. Plan the default branch again (a new pull request, or an empty commit) and approve that plan.",
        ApplyOutcome.Stale =>
            "nothing was applied: the project's state changed after the plan was made (another apply or a change outside Ensemble). " +
            "Plan the default branch again, review the new plan and approve it.",
        ApplyOutcome.Failed =>
            "terraform may have changed part of the infrastructure before it failed. Read the output, fix the cause in a new pull request and apply its plan.",
        ApplyOutcome.Interrupted =>
            "the worker stopped while terraform was applying, and Ensemble never re-runs an apply. Check the project's state " +
            "(a state lock may still be held), then plan the default branch again.",
        ApplyOutcome.Blocked => "apply the dependency first (fix its failure in a new pull request), then plan this project again.",
        _ => null,
    };

    /// <summary>The note on top of the plan's summary, within GitHub's limit; a shortened plan says so.</summary>
    internal static string WithNote(string note, string summary)
    {
        var full = $"{note}\n\n{summary}";
        if (full.Length <= CheckRunOutput.MaxLength)
        {
            return full;
        }

        const string Shortened = "\n\n_(The plan summary was shortened to fit GitHub's limit; the full plan is in the stored `plan.json` artifact.)_";
        return full[..(CheckRunOutput.MaxLength - Shortened.Length)] + Shortened;
    }

    private static string Fenced(string caption, string body) =>
        $"{caption}\n\n````text\n{Tail(body, 60_000).Replace("````", "` ` ` `", StringComparison.Ordinal)}\n````";

    private static string Cell(string text) =>
        Cut(text.Replace("\r", "", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal), 300);

    private static string Tail(string text, int max) => text.Length <= max ? text : "…" + text[^max..];

    private static string Cut(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    private static string Short(string sha) => sha.Length > 7 ? sha[..7] : sha;
}
