using System.Text;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.Plans;
using Ensemble.Jobs.State;
using Ensemble.Jobs.Terraform;
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
    GitMirror mirror,
    IInstallationTokenSource tokens,
    IGitHubChecks checks,
    IArtifactStore artifacts,
    ITerraformRunner terraform,
    AggregatePublisher aggregates,
    ProjectCheckRuns checkRuns,
    IFullPlanLinks fullPlanLinks,
    IOptions<EnsembleOptions> ensembleOptions,
    IOptions<TerraformOptions> terraformOptions,
    RepoConfigs configs,
    SecretMasker masker,
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
        var run = await state.GetRunAsync(runId, cancellationToken);
        if (run is null || run.Status is not (RunStatus.Queued or RunStatus.Planning))
        {
            return;
        }

        var head = await state.GetHeadAsync(run.HeadId, cancellationToken)
            ?? throw new InvalidOperationException($"Run {runId} belongs to head {run.HeadId}, which is not in the state store.");
        using var scope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["Repository"] = head.Repo.FullName, ["PullRequest"] = head.Number, ["Project"] = run.ProjectPath, ["RunId"] = run.Id,
        });

        if (head.Status is HeadStatus.Superseded or HeadStatus.Closed)
        {
            await state.TransitionRunAsync(run.Id, [RunStatus.Queued, RunStatus.Planning],
                new RunUpdate(head.Status == HeadStatus.Closed ? RunStatus.Abandoned : RunStatus.Superseded, time.GetUtcNow()) { SetFinished = true }, cancellationToken);
            return;
        }

        var retried = run.Status == RunStatus.Planning;
        if (!await state.TransitionRunAsync(run.Id, [RunStatus.Queued, RunStatus.Planning],
                new RunUpdate(RunStatus.Planning, time.GetUtcNow()) { IncrementAttempts = true, SetStarted = true }, cancellationToken))
        {
            return;
        }

        run = (await state.GetRunAsync(run.Id, cancellationToken))!;
        var started = time.GetUtcNow();
        var progress = new Progress(checks, time, head, run, started, retried);
        await progress.PublishAsync("Preparing a clean workspace", force: true, cancellationToken);
        await aggregates.PublishAsync(head.Id, cancellationToken);

        var workspace = Path.Combine(Path.GetFullPath(ensembleOptions.Value.WorkDirectory), "workspaces", $"run-{run.Id}-{run.Attempts}");
        var log = new StringBuilder();
        var token = await tokens.GetTokenAsync(head.Repo.InstallationId, cancellationToken);
        var runMasker = masker.With([token]);
        using var watchEnd = new CancellationTokenSource();
        var watcher = WatchForSupersedeAsync(run.Id, stop, watchEnd.Token);
        try
        {
            if (Directory.Exists(workspace))
            {
                Directory.Delete(workspace, recursive: true);
            }

            var source = Path.Combine(workspace, "src");
            var home = Path.Combine(workspace, "home");
            var temp = Path.Combine(workspace, "tmp");
            var output = Path.Combine(workspace, "out");
            Directory.CreateDirectory(home);
            Directory.CreateDirectory(temp);
            Directory.CreateDirectory(output);

            await mirror.FetchAsync(head.Repo, token, [$"refs/pull/{head.Number}/head", $"refs/heads/{head.BaseRef}"], [run.PlanSha], cancellationToken);
            await mirror.CheckoutAsync(head.Repo, run.PlanSha, source, cancellationToken);
            var projectDir = run.ProjectPath == "." ? source : Path.Combine(source, run.ProjectPath);
            if (!Directory.Exists(projectDir))
            {
                await FailAsync(head, run, "checkout", $"The project directory `{run.ProjectPath}` does not exist at {run.PlanSha[..7]}.", progress, cancellationToken);
                return;
            }

            // The terraform or OpenTofu version the project asks for, or a clear failure — never a run with the wrong one.
            var config = await configs.EffectiveAsync(head.Repo, head.Number, head.BaseSha, head.HeadSha, cancellationToken);
            var hints = TerraformVersionResolver.ReadHints(projectDir, run.ProjectPath, config.IsValid ? config.FindProject(run.ProjectPath)?.TerraformVersion : null);
            var tool = TerraformRunnerFactory.ResolveTool(terraformOptions.Value, hints);
            if (tool.Error is { } versionError)
            {
                await FailAsync(head, run, "version", versionError, progress, cancellationToken);
                return;
            }

            var planFile = Path.Combine(output, "plan.tfplan");
            async Task<TerraformResult> Terraform(string phase, IReadOnlyList<string> args, Func<string, ValueTask>? capture = null)
            {
                var header = $"$ terraform {string.Join(' ', args)}";
                RunLog.Append(log, header);
                progress.Phase = phase;
                progress.Line(header);
                await progress.PublishAsync(phase, force: true, cancellationToken);
                return await terraform.RunAsync(new TerraformInvocation(projectDir, args, home, temp) { Tool = tool.Tool }, async line =>
                {
                    var masked = runMasker.Mask(line);
                    if (capture is not null)
                    {
                        await capture(line);
                        return;
                    }

                    RunLog.Append(log, masked);
                    progress.Line(masked);
                    await progress.PublishAsync(phase, force: false, cancellationToken);
                }, cancellationToken);
            }

            // One run at a time per project state, across pull requests and workers (terraform's own lock would fail
            // the second run instead of letting it wait its turn).
            await progress.PublishAsync("Waiting for another run of this project to finish", force: true, cancellationToken);
            await using var projectLock = await state.LockProjectAsync(head.Repo, run.ProjectPath, cancellationToken);

            var init = await Terraform("Running terraform init", ["init", "-input=false", "-no-color"]);
            if (init.ExitCode != 0)
            {
                await FailWithLogAsync(head, run, "init", log, progress, cancellationToken);
                return;
            }

            List<string> planArgs = ["plan", "-input=false", "-no-color", "-detailed-exitcode", $"-out={planFile}"];
            if (run.Destroy)
            {
                planArgs.Add("-destroy");
            }

            var plan = await Terraform("Running terraform plan", planArgs);
            if (plan.ExitCode is not (0 or 2))
            {
                await FailWithLogAsync(head, run, "plan", log, progress, cancellationToken);
                return;
            }

            // To a file, not a MemoryStream (which doubles as it grows): uploaded and parsed from there, so the plan's
            // bytes are in memory once, in the parsed plan.
            var jsonFile = Path.Combine(output, "plan.json");
            TerraformResult show;
            await using (var jsonWriter = new StreamWriter(jsonFile, append: false, new UTF8Encoding(false)) { NewLine = "\n" })
            {
                show = await Terraform("Reading the plan (terraform show -json)", ["show", "-json", "-no-color", planFile], async line =>
                {
                    await jsonWriter.WriteLineAsync(line);
                });
            }

            if (show.ExitCode != 0)
            {
                RunLog.Append(log, runMasker.Mask(await File.ReadAllTextAsync(jsonFile, cancellationToken)));
                await FailWithLogAsync(head, run, "show", log, progress, cancellationToken);
                return;
            }

            var key = (string name) => ArtifactKeys.For(head.Repo, head.Number, run.ProjectPath, head.HeadSha, name);
            string planSha256;
            await using (var planStream = File.OpenRead(planFile))
            {
                planSha256 = await artifacts.PutAsync(key("plan.tfplan"), planStream, cancellationToken);
            }

            await using (var jsonStream = File.OpenRead(jsonFile))
            {
                await artifacts.PutAsync(key(ArtifactKeys.PlanJson), jsonStream, cancellationToken);
            }

            await artifacts.PutAsync(key("plan.log"), new MemoryStream(Encoding.UTF8.GetBytes(log.ToString()), writable: false), cancellationToken);

            PlanParseResult parsed;
            await using (var jsonStream = File.OpenRead(jsonFile))
            {
                parsed = await PlanDocument.ParseAsync(jsonStream, cancellationToken);
            }

            if (parsed.Error is { } parseError)
            {
                RunLog.Append(log, $"Ensemble could not read terraform's plan JSON: {parseError}");
                await FailWithLogAsync(head, run, "show", log, progress, cancellationToken);
                return;
            }

            var document = parsed.Plan!;
            var summary = PlanSummary.From(document);
            var fingerprint = PlanFingerprint.Compute(document);
            var rendered = PlanRenderer.Render(document, new PlanRenderContext(run.ProjectPath, fullPlanLinks.UrlFor(key(ArtifactKeys.PlanJson)), run.Destroy));
            var hasChanges = summary.HasChanges;
            var now = time.GetUtcNow();
            if (!await state.TransitionRunAsync(run.Id, [RunStatus.Planning],
                    new RunUpdate(hasChanges ? RunStatus.AwaitingApproval : RunStatus.NoChanges, now)
                    {
                        SetFinished = true, PlanSha256 = planSha256, Fingerprint = fingerprint, Summary = CountsLine(summary),
                    }, cancellationToken))
            {
                return;
            }

            // A plan identical to the last one approved for this project in this PR needs no second look.
            string? note = null;
            if (hasChanges && await state.LastApprovalAsync(head.Repo, head.Number, run.ProjectPath, cancellationToken) is { } last
                && string.Equals(last.Fingerprint, fingerprint, StringComparison.Ordinal))
            {
                var approval = new Approval(last.ApprovedBy, Automatic: true, now);
                if (await state.ApproveRunAsync(run.Id, fingerprint, approval, now, cancellationToken))
                {
                    note = ProjectCheckRuns.ApprovalNote(approval, fingerprint);
                }
            }

            run = (await state.GetRunAsync(run.Id, cancellationToken))!;
            await checkRuns.PublishAsync(head, run, rendered, note, cancellationToken);
            LogPlanned(logger, CountsLine(summary), (now - started).TotalSeconds);
            await aggregates.PublishAsync(head.Id, cancellationToken);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !jobCancellation.IsCancellationRequested)
        {
            await ReportStoppedAsync(head, run);
        }
        finally
        {
            await watchEnd.CancelAsync();
            await watcher;
            RunLog.TryDelete(workspace);
        }
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

    private async Task FailWithLogAsync(PullRequestHead head, ProjectRun run, string step, StringBuilder log, Progress progress, CancellationToken ct)
    {
        var key = ArtifactKeys.For(head.Repo, head.Number, run.ProjectPath, head.HeadSha, "plan.log");
        var text = log.ToString();
        await artifacts.PutAsync(key, new MemoryStream(Encoding.UTF8.GetBytes(text), writable: false), ct);
        // Diagnostics that name a file and line become annotations on that line of the PR's diff.
        var annotations = TerraformDiagnostics.ToAnnotations(TerraformDiagnostics.Parse(text), run.ProjectPath);
        await FailAsync(head, run, step, RunLog.Tail(log, 30_000), progress, ct, annotations);
    }

    private async Task FailAsync(PullRequestHead head, ProjectRun run, string step, string logTail, Progress progress, CancellationToken ct,
        IReadOnlyList<CheckRunAnnotation>? annotations = null)
    {
        var now = time.GetUtcNow();
        if (!await state.TransitionRunAsync(run.Id, [RunStatus.Planning],
                new RunUpdate(RunStatus.Failed, now) { SetFinished = true, Error = $"terraform {step} failed", Summary = $"{step} failed" }, ct))
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
        await aggregates.PublishAsync(head.Id, ct);
    }

    /// <summary>The short counts line kept in state for the aggregate's table.</summary>
    internal static string CountsLine(PlanSummary s) =>
        s.HasChanges ? $"+{s.Add} ~{s.Change} ±{s.Replace} −{s.Destroy}" : "no changes";


    /// <summary>Live progress on the check run: phase, elapsed time and the latest lines, at most every <see cref="ProgressInterval"/>.</summary>
    private sealed class Progress(IGitHubChecks checks, TimeProvider time, PullRequestHead head, ProjectRun run, DateTimeOffset started, bool retried)
    {
        private readonly Queue<string> _tail = new();
        private DateTimeOffset _lastPublished = DateTimeOffset.MinValue;

        public string Phase { get; set; } = "";

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
                .Append(run.Attempts > 1 || retried ? $" (attempt {run.Attempts}: the previous attempt was interrupted and this one started from a clean workspace)" : "")
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Plan stopped: {Why}")]
    private static partial void LogStopped(ILogger logger, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Plan failed at terraform {Step}")]
    private static partial void LogFailed(ILogger logger, string step);
}
