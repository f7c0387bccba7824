using System.Security.Cryptography;
using System.Text;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.State;
using Ensemble.Jobs.Terraform;
using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Applies one approved project after its pull request merged: take the run (approved → applying, once), verify the
/// artifact and the merge's inputs, then <c>terraform init</c> + <c>terraform apply PLANFILE</c> in a fresh checkout
/// of the planned commit. Every outcome is recorded and shown; a refusal or failure is never retried blindly.
/// </summary>
public sealed partial class ApplyJob(
    IStateStore state,
    GitMirror mirror,
    ProjectInputs projectInputs,
    IInstallationTokenSource tokens,
    IArtifactStore artifacts,
    ITerraformRunner terraform,
    ApplyCoordinator coordinator,
    ApplyDependencies dependencies,
    ApplyReporter reporter,
    AggregatePublisher aggregates,
    ApplyFallback fallback,
    IOptions<EnsembleOptions> ensembleOptions,
    SecretMasker masker,
    TimeProvider time,
    ILogger<ApplyJob> logger)
{
    private const string StaleMarker = "Saved plan is stale";

    /// <param name="runId">The approved project run.</param>
    /// <param name="context">Hangfire's context (null when called directly): its job id tells a re-delivery of this job from a duplicate.</param>
    [AutomaticRetry(Attempts = 0)]
    public async Task RunAsync(long runId, PerformContext? context, CancellationToken cancellationToken)
    {
        if (await state.GetRunAndHeadAsync(runId, cancellationToken) is not (var run, var head)
            || await state.GetMergeByHeadAsync(head.Id, cancellationToken) is not { } merge)
        {
            return;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["Repository"] = head.Repo.FullName, ["PullRequest"] = head.Number, ["Project"] = run.ProjectPath, ["RunId"] = run.Id,
        });
        var jobId = context?.BackgroundJob?.Id is { Length: > 0 } id ? "hangfire-" + id : "direct-" + Guid.NewGuid().ToString("N");

        if (run.Status == RunStatus.Applying)
        {
            await ReportFoundApplyingAsync(head, merge, run, jobId, cancellationToken);
            return;
        }

        if (run.Status != RunStatus.Approved)
        {
            LogNothingToDo(logger, run.Status.ToDb());
            return;
        }

        var statuses = (await state.ListRunsAsync(head.Id, cancellationToken)).ToDictionary(r => r.ProjectPath, r => r.Status, StringComparer.Ordinal);
        var gate = ApplyVerification.Gate(run.ProjectPath, await dependencies.ForAsync(head, cancellationToken), statuses);
        if (gate is DependencyGate.Wait)
        {
            // The dependency's own end enqueues this run again.
            return;
        }

        if (!await state.StartApplyAsync(run.Id, merge.Id, jobId, RunStateMachine.SourcesOf(new RunEvent.ApplyStarted()), time.GetUtcNow(), cancellationToken))
        {
            LogLostRace(logger);
            return;
        }

        run = (await state.GetRunAsync(run.Id, cancellationToken))!;
        try
        {
            if (gate is DependencyGate.Blocked blocked)
            {
                await FinishAsync(head, merge, run, ApplyOutcome.Blocked, $"Not applied: {blocked.Reason}.", null, cancellationToken);
                return;
            }

            // The merge commit's check run appears with the first progress report (or the result): a quick apply
            // costs GitHub one request, a slow one shows progress within PlanJob.ProgressInterval.
            await ApplyAsync(head, merge, run, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An outage (git, S3, GitHub) mid-way: record it, never retry an apply blindly.
            LogOutage(logger, e);
            await FinishAsync(head, merge, run, ApplyOutcome.Failed,
                $"Ensemble could not finish the apply: {e.GetType().Name}: {masker.Mask(e.Message)}", null, CancellationToken.None, quiet: true);
            throw;
        }
        catch (OperationCanceledException)
        {
            await FinishAsync(head, merge, run, ApplyOutcome.Interrupted,
                "The worker stopped (shutdown) during the apply; Ensemble does not run it again.", null, CancellationToken.None, quiet: true);
            throw;
        }
        finally
        {
            await coordinator.EnqueueReadyAsync(head.Id, CancellationToken.None);
        }
    }

    /// <summary>
    /// An apply whose job died with its process (found by <see cref="ApplyCoordinator.RecoverAsync"/> after a restart):
    /// reported interrupted, never run again; its dependents are then released or blocked.
    /// </summary>
    public async Task ReportInterruptedAsync(long runId, CancellationToken ct)
    {
        if (await state.GetRunAndHeadAsync(runId, ct) is not (var run, var head) || run.Status != RunStatus.Applying
            || await state.GetMergeByHeadAsync(head.Id, ct) is not { } merge)
        {
            return;
        }

        LogInterrupted(logger);
        await FinishAsync(head, merge, run, ApplyOutcome.Interrupted,
            "This apply was interrupted (Ensemble stopped while terraform was applying) and Ensemble never runs an apply twice.", null, ct);
        await coordinator.EnqueueReadyAsync(head.Id, ct);
    }

    private async Task ApplyAsync(PullRequestHead head, MergeRecord merge, ProjectRun run, CancellationToken ct)
    {
        using var workspace = RunWorkspace.Create(ensembleOptions.Value.WorkDirectory, $"apply-{run.Id}-{Guid.NewGuid():N}");
        var log = new StringBuilder();
        // 1. The artifact, hashed as it is downloaded.
        var planFile = Path.Combine(workspace.Output, "plan.tfplan");
        var downloaded = await DownloadAsync(ArtifactKeys.For(head.Repo, head.Number, run.ProjectPath, head.HeadSha, ArtifactKeys.PlanFile), planFile, ct);

        // 2. The inputs: the project, every local module it uses and the files they read, at the planned commit and in
        // the merge commit.
        var token = await tokens.GetTokenAsync(head.Repo.InstallationId, ct);
        var runMasker = masker.With([token]);
        await mirror.FetchAsync(head.Repo, token, [$"refs/heads/{head.BaseRef}", $"refs/pull/{head.Number}/head"], [run.PlanSha, merge.MergeSha], ct);
        var inputs = await projectInputs.OfAsync(head.Repo, head.Number, head.BaseSha, run.PlanSha, run.ProjectPath, ct);
        var planned = await mirror.TreeHashesAsync(head.Repo, run.PlanSha, inputs.All, ct);
        var merged = await mirror.TreeHashesAsync(head.Repo, merge.MergeSha, inputs.All, ct);

        // The approval audit row of this very run says which plan file a person (or an identical plan) approved.
        var approval = (await state.ListApprovalsAsync(head.Repo, head.Number, ct)).LastOrDefault(a => a.RunId == run.Id);
        var verdict = ApplyVerification.Verify(new ApplyEvidence(
            run.ProjectPath, run.Destroy, run.PlanSha256, approval is null ? null : approval.PlanSha256 ?? "", downloaded, planned, merged)
        {
            Files = inputs.Files,
        });
        if (verdict is ApplyVerdict.Refused refused)
        {
            LogRefused(logger, refused.Reason);
            await FinishAsync(head, merge, run, ApplyOutcome.Refused, $"Apply refused: {refused.Reason}.", null, ct);
            return;
        }

        // 3. terraform init + apply of the saved plan in a fresh checkout of the planned commit: of the same paths the
        // plan checked out (ProjectInputs is a function of the commit).
        await mirror.CheckoutAsync(head.Repo, run.PlanSha, workspace.Source, inputs.Checkout, ct);
        var projectDir = workspace.ProjectDirectory(run.ProjectPath);
        Directory.CreateDirectory(projectDir);
        var progress = new Progress(reporter, time, head, merge, run, (await state.GetApplyAsync(run.Id, ct))?.MergeCheckRunId);

        async Task<TerraformResult> Terraform(string phase, IReadOnlyList<string> args, CancellationToken token)
        {
            var header = $"$ terraform {string.Join(' ', args)}";
            RunLog.Append(log, header);
            progress.Line(header);
            await progress.PublishAsync(phase, ct);
            return await terraform.RunAsync(new TerraformInvocation(projectDir, args, workspace.Home, workspace.Temp), async line =>
            {
                var masked = runMasker.Mask(line);
                RunLog.Append(log, masked);
                progress.Line(masked);
                await progress.PublishAsync(phase, CancellationToken.None);
            }, token);
        }

        // The same per-project lock as plans: an apply never overlaps another run on this project's state.
        await using var projectLock = await state.LockProjectAsync(head.Repo, run.ProjectPath, ct);
        var init = await Terraform("Running terraform init", ["init", "-input=false", "-no-color"], ct);
        if (init.ExitCode != 0)
        {
            await StoreLogAsync(head, run, log);
            await FinishAsync(head, merge, run, ApplyOutcome.Failed, "terraform init failed before anything was applied.", RunLog.Tail(log, 30_000), ct);
            return;
        }

        // Once apply starts it is not cancelled: stopping terraform mid-apply leaves the state half-written and locked.
        var apply = await Terraform("Running terraform apply", ["apply", "-input=false", "-no-color", planFile], CancellationToken.None);
        await StoreLogAsync(head, run, log);
        var text = log.ToString();
        if (apply.ExitCode == 0)
        {
            LogApplied(logger);
            await FinishAsync(head, merge, run, ApplyOutcome.Applied,
                $"Applied at {ProjectCheckRuns.Stamp(time.GetUtcNow())} by merge of #{head.Number}" + (run.Summary is { } counts ? $" ({counts})." : "."), RunLog.Tail(log, 30_000), ct);
        }
        else if (text.Contains(StaleMarker, StringComparison.Ordinal))
        {
            await FinishAsync(head, merge, run, ApplyOutcome.Stale,
                "terraform refused the plan: Saved plan is stale — the project's state changed after this plan was made. Nothing was applied.", RunLog.Tail(log, 30_000), ct);
        }
        else
        {
            await FinishAsync(head, merge, run, ApplyOutcome.Failed,
                apply.TimedOut ? "terraform apply timed out." : $"terraform apply failed (exit code {apply.ExitCode}).", RunLog.Tail(log, 30_000), ct);
        }
    }

    /// <summary>Downloads the artifact to <paramref name="path"/> and returns the SHA-256 of the bytes written, or null when it is missing.</summary>
    private async Task<string?> DownloadAsync(string key, string path, CancellationToken ct)
    {
        await using var stream = await artifacts.OpenReadAsync(key, ct);
        if (stream is null)
        {
            return null;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var file = File.Create(path);
        var buffer = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(buffer, ct)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            await file.WriteAsync(buffer.AsMemory(0, read), ct);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// A run already applying: a re-delivery of the job that took it (its worker died) is reported as interrupted; any
    /// other job (a duplicate webhook, a second worker) leaves the running apply alone. Never re-run.
    /// </summary>
    private async Task ReportFoundApplyingAsync(PullRequestHead head, MergeRecord merge, ProjectRun run, string jobId, CancellationToken ct)
    {
        var apply = await state.GetApplyAsync(run.Id, ct);
        if (apply is null || apply.JobId != jobId)
        {
            LogLostRace(logger);
            return;
        }

        LogInterrupted(logger);
        await FinishAsync(head, merge, run, ApplyOutcome.Interrupted,
            "This apply was interrupted (its worker stopped) and Ensemble never runs an apply twice.", null, ct);
        await coordinator.EnqueueReadyAsync(head.Id, ct);
    }

    private async Task FinishAsync(PullRequestHead head, MergeRecord merge, ProjectRun run, ApplyOutcome outcome, string message, string? logTail, CancellationToken ct, bool quiet = false)
    {
        var finished = new RunEvent.ApplyFinished(outcome == ApplyOutcome.Applied);
        if (!await state.FinishApplyAsync(run.Id, RunStateMachine.TargetOf(finished), RunStateMachine.SourcesOf(finished), outcome, message, time.GetUtcNow(), ct))
        {
            return;
        }

        try
        {
            var current = (await state.GetRunAsync(run.Id, ct))!;
            await reporter.FinishAsync(head, merge, current, outcome, message, logTail, ct);
            if (outcome is ApplyOutcome.Refused or ApplyOutcome.Stale or ApplyOutcome.Failed)
            {
                // Nothing (or not all) was applied: plan the merge commit and ask for approval there.
                await fallback.RequestAsync(head, merge, current, message.TrimEnd('.'), ct);
            }

            await reporter.PublishCommentAsync(head, ct);
            if (!ApplyFallback.IsPostMergeHead(head, merge))
            {
                // The PR's aggregate turns into the apply summary ("Applying: 3 of 4 applied", then the result).
                await aggregates.PublishAsync(head.Id, ct);
            }
        }
        catch (Exception e) when (quiet && e is not OperationCanceledException)
        {
            // The outcome is recorded; showing it failed too (GitHub down). The dashboard and state still have it.
            LogOutage(logger, e);
        }
    }

    private async Task StoreLogAsync(PullRequestHead head, ProjectRun run, StringBuilder log) =>
        await artifacts.PutAsync(ArtifactKeys.For(head.Repo, head.Number, run.ProjectPath, head.HeadSha, ArtifactKeys.ApplyLog),
            new MemoryStream(Encoding.UTF8.GetBytes(log.ToString()), writable: false), CancellationToken.None);


    /// <summary>Live output on the merge commit's check run, at most every <see cref="PlanJob.ProgressInterval"/>, the first one interval after the start.</summary>
    private sealed class Progress(ApplyReporter reporter, TimeProvider time, PullRequestHead head, MergeRecord merge, ProjectRun run, long? checkRunId)
    {
        private readonly Queue<string> _tail = new();
        private readonly DateTimeOffset _started = time.GetUtcNow();
        private DateTimeOffset _lastPublished = time.GetUtcNow();
        private long? _checkRunId = checkRunId;

        public void Line(string line)
        {
            _tail.Enqueue(line.Length > 500 ? line[..500] + "…" : line);
            while (_tail.Count > 25)
            {
                _tail.Dequeue();
            }
        }

        public async Task PublishAsync(string phase, CancellationToken ct)
        {
            var now = time.GetUtcNow();
            if (now - _lastPublished < PlanJob.ProgressInterval)
            {
                return;
            }

            _lastPublished = now;
            var elapsed = (int)(now - _started).TotalSeconds;
            _checkRunId = await reporter.ProgressAsync(head, merge, run, _checkRunId, $"{phase} ({elapsed} s)", [.. _tail], ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Apply not started: the run is {Status}")]
    private static partial void LogNothingToDo(ILogger logger, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Apply not started: another job took this run")]
    private static partial void LogLostRace(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Apply refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied")]
    private static partial void LogApplied(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Apply interrupted: its job was delivered again after its worker stopped; not re-run")]
    private static partial void LogInterrupted(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "Apply could not finish")]
    private static partial void LogOutage(ILogger logger, Exception exception);
}
