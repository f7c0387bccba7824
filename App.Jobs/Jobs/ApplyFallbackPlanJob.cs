using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.Plans;
using Ensemble.Jobs.State;
using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Plans one project at the merge commit for the post-merge approval (<see cref="ApplyFallback"/>): init, plan -out,
/// show -json, artifacts, then a check run on the merge commit with the plan and an <c>apply</c> button. Never
/// auto-approved: after a refusal or a failure a person looks again. Reentrant like <see cref="PlanJob"/>.
/// </summary>
public sealed partial class ApplyFallbackPlanJob(
    IStateStore state,
    IGitHubChecks checks,
    PlanExecution execution,
    RepositoryRunSlots slots,
    IBackgroundJobClient jobs,
    ApplyReporter reporter,
    IOptions<EnsembleOptions> ensembleOptions,
    TimeProvider time,
    ILogger<ApplyFallbackPlanJob> logger)
{
    [AutomaticRetry(Attempts = 3)]
    public async Task RunAsync(long runId, CancellationToken cancellationToken)
    {
        if (await state.GetRunAndHeadAsync(runId, cancellationToken) is not (var run, var head) || run.CheckRunId is null)
        {
            return;
        }

        var started = new RunEvent.PlanStarted();
        if (!RunStateMachine.SourcesOf(started).Contains(run.Status))
        {
            return;
        }

        // The repository's cap holds for post-merge plans too; without a slot the worker goes back to other work.
        var limit = ensembleOptions.Value.MaxRunsPerRepository;
        await using var slot = await slots.TryAcquireAsync(head.Repo, limit, cancellationToken);
        if (slot is null)
        {
            if (slots.FirstWait(run.Id))
            {
                var waiting = RepositoryRunSlots.WaitingText(limit, limit);
                await ShowAsync(head, run, CheckStatus.Queued, null, new CheckRunOutput(waiting,
                    $"{waiting}. The post-merge plan of `{run.ProjectPath}` starts when one of them finishes."), [], cancellationToken);
            }

            RepositoryRunSlots.TryAgainLater<ApplyFallbackPlanJob>(jobs, job => job.RunAsync(run.Id, CancellationToken.None));
            return;
        }

        slots.Started(run.Id);
        if (await state.TransitionRunAsync(run.Id, RunStateMachine.SourcesOf(started),
                new RunUpdate(RunStateMachine.TargetOf(started), time.GetUtcNow()) { IncrementAttempts = true, SetStarted = true }, cancellationToken) is null)
        {
            return;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["Repository"] = head.Repo.FullName, ["PullRequest"] = head.Number, ["Project"] = run.ProjectPath, ["RunId"] = run.Id,
        });
        run = (await state.GetRunAsync(run.Id, cancellationToken))!;
        try
        {
            await ShowAsync(head, run, CheckStatus.InProgress, null, new CheckRunOutput("Planning the merge commit…",
                $"Post-merge plan of `{run.ProjectPath}` at `{run.PlanSha[..7]}`. {run.Reasons}"), [], cancellationToken);

            // The configured terraform as it is (no per-project version): the apply of this plan runs that one too.
            var outcome = await execution.RunAsync(
                new PlanRequest(head.Repo, head.Number, head.HeadSha, run.ProjectPath, run.PlanSha, Destroy: false,
                    [$"refs/heads/{head.BaseRef}"], $"postmerge-{run.Id}-{run.Attempts}", head.BaseSha) { ResolveVersion = false },
                IPlanProgress.None, cancellationToken);
            if (outcome.Plan is not { } document)
            {
                await FailAsync(head, run, outcome.FailedStep!, outcome.FailureText!, cancellationToken);
                return;
            }

            var summary = outcome.Summary!;
            var finished = new RunEvent.PlanFinished(summary.HasChanges, outcome.Fingerprint!);
            if (await state.TransitionRunAsync(run.Id, RunStateMachine.SourcesOf(finished),
                    new RunUpdate(RunStateMachine.TargetOf(finished), time.GetUtcNow())
                    {
                        SetFinished = true, PlanSha256 = outcome.PlanSha256, Fingerprint = finished.Fingerprint, Summary = PlanJob.CountsLine(summary),
                    }, cancellationToken) is null)
            {
                return;
            }

            var rendered = PlanRenderer.Render(document, new PlanRenderContext(run.ProjectPath, null, false));
            var note = summary.HasChanges
                ? $"> ⚠️ {run.Reasons} This plan of the merge commit needs a new approval: **Apply** applies exactly this plan, once."
                : $"> {run.Reasons} The merge commit has no changes to apply for this project.";
            await ShowAsync(head, run, CheckStatus.Completed, summary.HasChanges ? CheckConclusion.ActionRequired : CheckConclusion.Success,
                rendered with { Title = (summary.HasChanges ? "Post-merge plan: " : "No changes: ") + rendered.Title, Summary = $"{note}\n\n{rendered.Summary}" },
                summary.HasChanges ? [ApplyFallback.ApplyAction] : [], cancellationToken);
            LogPlanned(logger, PlanJob.CountsLine(summary));
        }
        finally
        {
            await reporter.PublishCommentAsync(head, CancellationToken.None);
        }
    }

    private async Task FailAsync(PullRequestHead head, ProjectRun run, string step, string logText, CancellationToken ct)
    {
        var failed = new RunEvent.PlanFailed(step);
        if (await state.TransitionRunAsync(run.Id, RunStateMachine.SourcesOf(failed),
                new RunUpdate(RunStateMachine.TargetOf(failed), time.GetUtcNow()) { SetFinished = true, Error = $"terraform {step} failed", Summary = $"{step} failed" }, ct) is null)
        {
            return;
        }

        await ShowAsync(head, run, CheckStatus.Completed, CheckConclusion.Failure,
            PlanRenderer.RenderFailure(run.ProjectPath, step, logText, "a new pull request that fixes the project"), [], ct);
        LogFailed(logger, step);
    }

    private Task ShowAsync(PullRequestHead head, ProjectRun run, CheckStatus status, CheckConclusion? conclusion, CheckRunOutput output,
        IReadOnlyList<CheckRunAction> actions, CancellationToken ct) =>
        checks.UpdateCheckRunAsync(head.Repo, run.CheckRunId!.Value, new CheckRunRequest
        {
            Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
            HeadSha = head.HeadSha,
            Status = status,
            Conclusion = conclusion,
            ExternalId = ApplyFallback.ExternalId(run.Id),
            CompletedAt = status == CheckStatus.Completed ? time.GetUtcNow() : null,
            Output = output,
            Actions = actions,
        }, ct);

    [LoggerMessage(Level = LogLevel.Information, Message = "Post-merge plan: {Counts}")]
    private static partial void LogPlanned(ILogger logger, string counts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Post-merge plan failed at terraform {Step}")]
    private static partial void LogFailed(ILogger logger, string step);
}
