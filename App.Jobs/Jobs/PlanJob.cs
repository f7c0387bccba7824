using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.Plans;
using Ensemble.Jobs.State;
using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Plans one project of one pull-request head: clean checkout → terraform init → plan -out → show -json → artifacts →
/// check run. Terraform failures are results (shown on the check run), not exceptions; exceptions are outages and
/// leave the run to be retried. Reentrant: a run already past planning is left alone.
/// </summary>
public sealed partial class PlanJob(
    IStateStore state,
    IGitHubChecks checks,
    PlanExecution execution,
    RepositoryRunSlots slots,
    IBackgroundJobClient jobs,
    AggregatePublisher aggregates,
    ProjectCheckRuns checkRuns,
    IFullPlanLinks fullPlanLinks,
    IOptions<EnsembleOptions> ensembleOptions,
    RepoConfigs configs,
    TimeProvider time,
    ILogger<PlanJob> logger)
{
    /// <summary>How often a running plan's check run is updated with its latest output (GitHub rate limits).</summary>
    public static TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(5);


    [AutomaticRetry(Attempts = 3)]
    public async Task RunAsync(long runId, CancellationToken jobCancellation)
    {
        // Stopped by shutdown (Hangfire's token) or because a newer commit superseded the plan mid-run.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(jobCancellation);
        var cancellationToken = stop.Token;
        if (await state.GetRunAndHeadAsync(runId, cancellationToken) is not (var run, var head)
            || run.Status is not (RunStatus.Queued or RunStatus.Planning))
        {
            return;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["Repository"] = head.Repo.FullName, ["PullRequest"] = head.Number, ["Project"] = run.ProjectPath, ["RunId"] = run.Id,
        });

        if (head.Status is HeadStatus.Superseded or HeadStatus.Closed)
        {
            slots.Started(run.Id);
            await state.TransitionRunAsync(run.Id, [RunStatus.Queued, RunStatus.Planning],
                new RunUpdate(head.Status == HeadStatus.Closed ? RunStatus.Abandoned : RunStatus.Superseded, time.GetUtcNow()) { SetFinished = true }, cancellationToken);
            return;
        }

        // A slot of the repository's cap before anything else; without one the worker goes back to other repositories.
        var limit = ensembleOptions.Value.MaxRunsPerRepository;
        await using var slot = await slots.TryAcquireAsync(head.Repo, limit, cancellationToken);
        if (slot is null)
        {
            await WaitForSlotAsync(head, run, limit, cancellationToken);
            return;
        }

        slots.Started(run.Id);
        // Still planning when a job starts: the worker of the previous attempt died (or was stopped) mid-plan.
        var retried = run.Status == RunStatus.Planning;
        if (await state.TransitionRunAsync(run.Id, [RunStatus.Queued, RunStatus.Planning],
                new RunUpdate(RunStatus.Planning, time.GetUtcNow()) { IncrementAttempts = true, SetStarted = true }, cancellationToken) is not { } planning)
        {
            return;
        }

        run = planning;
        var started = time.GetUtcNow();
        var progress = new Progress(checks, time, head, run, started, retried);
        await progress.PublishAsync("Preparing a clean workspace", force: false, cancellationToken);
        await aggregates.PublishAsync(head, cancellationToken);

        using var watchEnd = new CancellationTokenSource();
        var watcher = WatchForSupersedeAsync(run.Id, stop, watchEnd.Token);
        try
        {
            var config = await configs.EffectiveAsync(head.Repo, head.Number, head.BaseSha, head.HeadSha, cancellationToken);
            var outcome = await execution.RunAsync(
                new PlanRequest(head.Repo, head.Number, head.HeadSha, run.ProjectPath, run.PlanSha, run.Destroy,
                    [$"refs/pull/{head.Number}/head", $"refs/heads/{head.BaseRef}"], $"run-{run.Id}-{run.Attempts}", head.BaseSha)
                {
                    VersionOverride = config.IsValid ? config.FindProject(run.ProjectPath)?.TerraformVersion : null,
                },
                progress, cancellationToken);
            if (outcome.Plan is not { } document)
            {
                await FailAsync(head, run, outcome.FailedStep!, outcome.FailureText!, cancellationToken, outcome.Annotations);
                return;
            }

            var summary = outcome.Summary!;
            var fingerprint = outcome.Fingerprint!;
            var rendered = PlanRenderer.Render(document, new PlanRenderContext(run.ProjectPath, fullPlanLinks.UrlFor(outcome.PlanJsonKey!), run.Destroy));
            var hasChanges = summary.HasChanges;
            var now = time.GetUtcNow();
            if (await state.TransitionRunAsync(run.Id, [RunStatus.Planning],
                    new RunUpdate(hasChanges ? RunStatus.AwaitingApproval : RunStatus.NoChanges, now)
                    {
                        SetFinished = true, PlanSha256 = outcome.PlanSha256, Fingerprint = fingerprint, Summary = CountsLine(summary),
                    }, cancellationToken) is not { } planned)
            {
                return;
            }

            run = planned;

            // A plan identical to the last one approved for this project in this PR needs no second look.
            var notes = new List<string>();
            if (retried)
            {
                notes.Add(RetriedNote(run.Attempts));
            }

            if (hasChanges && await state.LastApprovalAsync(head.Repo, head.Number, run.ProjectPath, cancellationToken) is { } last
                && string.Equals(last.Fingerprint, fingerprint, StringComparison.Ordinal))
            {
                var approval = new Approval(last.ApprovedBy, Automatic: true, now);
                if (await state.ApproveRunAsync(run.Id, fingerprint, approval, now, cancellationToken))
                {
                    run = run with { Status = RunStatus.Approved };
                    notes.Add(ProjectCheckRuns.ApprovalNote(approval, fingerprint));
                }
            }

            await checkRuns.PublishAsync(head, run, rendered, notes.Count == 0 ? null : string.Join("\n>\n> ", notes), cancellationToken);
            LogPlanned(logger, CountsLine(summary), (now - started).TotalSeconds);
            await aggregates.PublishAsync(head, cancellationToken);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !jobCancellation.IsCancellationRequested)
        {
            await ReportStoppedAsync(head, run);
        }
        finally
        {
            await watchEnd.CancelAsync();
            await watcher;
        }
    }

    /// <summary>Shown on a plan that ran again because the worker of an earlier attempt stopped mid-plan.</summary>
    public static string RetriedNote(int attempt) =>
        $"🔁 Retried: attempt {attempt}. An earlier attempt was interrupted (its worker stopped mid-plan); this plan ran again from a clean workspace.";

    /// <summary>
    /// No free slot: the check run says what the run waits for (once per process, not on every try) and the job is
    /// tried again later, so the worker serves other repositories meanwhile. A newer commit or a closed PR ends the
    /// wait at the next try.
    /// </summary>
    private async Task WaitForSlotAsync(PullRequestHead head, ProjectRun run, int limit, CancellationToken ct)
    {
        if (slots.FirstWait(run.Id) && run.CheckRunId is { } checkRunId)
        {
            var waiting = RepositoryRunSlots.WaitingText(limit, limit);
            await checks.UpdateCheckRunAsync(head.Repo, checkRunId, new CheckRunRequest
            {
                Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
                HeadSha = head.HeadSha,
                Status = CheckStatus.Queued,
                ExternalId = $"run-{run.Id}",
                Output = new CheckRunOutput(waiting, $"{waiting}. The plan of `{run.ProjectPath}` starts when one of them finishes " +
                    "(`Ensemble:MaxRunsPerRepository` keeps one repository from taking every worker)."),
            }, ct);
        }

        LogWaiting(logger, limit);
        RepositoryRunSlots.TryAgainLater<PlanJob>(jobs, job => job.RunAsync(run.Id, CancellationToken.None));
    }

    /// <summary>How often a running plan checks whether a newer commit superseded it (or the PR closed).</summary>
    public static TimeSpan SupersedeCheckInterval { get; set; } = TimeSpan.FromSeconds(2);

    private async Task WatchForSupersedeAsync(long runId, CancellationTokenSource stop, CancellationToken end)
    {
        try
        {
            while (!end.IsCancellationRequested)
            {
                await Task.Delay(SupersedeCheckInterval, time, end);
                var current = await state.GetRunAsync(runId, end);
                if (current?.Status is RunStatus.Superseded or RunStatus.Abandoned)
                {
                    // Terraform and everything it started are stopped by the runner when the token fires.
                    await stop.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (System.Data.Common.DbException)
        {
            // A database hiccup must not stop a healthy plan; the next plan step will surface a real outage.
        }
    }

    private async Task ReportStoppedAsync(PullRequestHead head, ProjectRun run)
    {
        var current = await state.GetRunAsync(run.Id, CancellationToken.None);
        var why = current?.Status == RunStatus.Abandoned
            ? "the pull request was closed"
            : "a newer commit was pushed; its plans are on that commit";
        LogStopped(logger, why);
        await checks.UpdateCheckRunAsync(head.Repo, run.CheckRunId!.Value, new CheckRunRequest
        {
            Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
            HeadSha = head.HeadSha,
            Status = CheckStatus.Completed,
            Conclusion = CheckConclusion.Cancelled,
            ExternalId = $"run-{run.Id}",
            CompletedAt = time.GetUtcNow(),
            Output = new CheckRunOutput("Stopped: superseded", $"Terraform was stopped mid-plan because {why}."),
        }, CancellationToken.None);
    }

    private async Task FailAsync(PullRequestHead head, ProjectRun run, string step, string logTail, CancellationToken ct,
        IReadOnlyList<CheckRunAnnotation>? annotations = null)
    {
        var now = time.GetUtcNow();
        if (await state.TransitionRunAsync(run.Id, [RunStatus.Planning],
                new RunUpdate(RunStatus.Failed, now) { SetFinished = true, Error = $"terraform {step} failed", Summary = $"{step} failed" }, ct) is null)
        {
            return;
        }

        var output = PlanRenderer.RenderFailure(run.ProjectPath, step, logTail, $"/ensemble replan {run.ProjectPath}");
        await checks.UpdateCheckRunAsync(head.Repo, run.CheckRunId!.Value, new CheckRunRequest
        {
            Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
            HeadSha = head.HeadSha,
            Status = CheckStatus.Completed,
            Conclusion = CheckConclusion.Failure,
            Output = output,
            ExternalId = $"run-{run.Id}",
            CompletedAt = now,
            Annotations = annotations ?? [],
        }, ct);
        LogFailed(logger, step);
        await aggregates.PublishAsync(head, ct);
    }

    /// <summary>The short counts line kept in state for the aggregate's table.</summary>
    internal static string CountsLine(PlanSummary s) =>
        s.HasChanges ? $"+{s.Add} ~{s.Change} ±{s.Replace} −{s.Destroy}" : "no changes";


    /// <summary>Live progress on the check run: phase, elapsed time and the latest lines, at most every <see cref="ProgressInterval"/>.</summary>
    private sealed class Progress(IGitHubChecks checks, TimeProvider time, PullRequestHead head, ProjectRun run, DateTimeOffset started, bool retried)
        : IPlanProgress
    {
        private readonly Queue<string> _tail = new();
        // The check run already shows "queued": a plan that finishes within one interval goes straight from queued to its
        // result (API economy), a slow one shows progress from then on. A retried run says so at once.
        private DateTimeOffset _lastPublished = retried ? DateTimeOffset.MinValue : started;

        public string Phase { get; set; } = "";

        public async Task PhaseAsync(string phase, string? firstLine, CancellationToken ct)
        {
            Phase = phase;
            if (firstLine is not null)
            {
                Line(firstLine);
            }

            await PublishAsync(phase, force: false, ct);
        }

        public async Task WaitingAsync(string what, CancellationToken ct)
        {
            Phase = what;
            await PublishAsync(what, force: true, ct);
        }

        public async Task LineAsync(string line, CancellationToken ct)
        {
            Line(line);
            await PublishAsync(Phase, force: false, ct);
        }

        public void Line(string line)
        {
            _tail.Enqueue(line.Length > 500 ? line[..500] + "…" : line);
            while (_tail.Count > 25)
            {
                _tail.Dequeue();
            }
        }

        public async Task PublishAsync(string phase, bool force, CancellationToken ct)
        {
            var now = time.GetUtcNow();
            if (!force && now - _lastPublished < ProgressInterval)
            {
                return;
            }

            _lastPublished = now;
            var elapsed = now - started;
            var summary = new StringBuilder()
                .Append("**").Append(phase).Append("** — ").Append((int)elapsed.TotalSeconds).Append(" s elapsed")
                .Append(retried ? $" (attempt {run.Attempts}: the previous attempt was interrupted and this one started from a clean workspace)" : "")
                .Append("\n\nPlanning commit `").Append(run.PlanSha[..Math.Min(7, run.PlanSha.Length)]).Append('`')
                .Append(run.Destroy ? " with `-destroy` (the project was deleted)" : "").Append('.');
            var text = _tail.Count == 0 ? null : "Latest output:\n\n````text\n" + string.Join('\n', _tail).Replace("````", "` ` ` `", StringComparison.Ordinal) + "\n````";
            await checks.UpdateCheckRunAsync(head.Repo, run.CheckRunId!.Value, new CheckRunRequest
            {
                Name = AggregateStatus.ProjectCheckName(run.ProjectPath),
                HeadSha = head.HeadSha,
                Status = CheckStatus.InProgress,
                ExternalId = $"run-{run.Id}",
                StartedAt = started,
                Output = new CheckRunOutput($"{phase}…", summary.ToString(), text),
            }, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Planned: {Counts} in {Seconds:0.0} s")]
    private static partial void LogPlanned(ILogger logger, string counts, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting for a slot: {Limit} runs of this repository already running")]
    private static partial void LogWaiting(ILogger logger, int limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "Plan stopped: {Why}")]
    private static partial void LogStopped(ILogger logger, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Plan failed at terraform {Step}")]
    private static partial void LogFailed(ILogger logger, string step);
}
