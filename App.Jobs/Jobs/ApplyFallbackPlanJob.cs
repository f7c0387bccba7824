using System.Text;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
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
/// Plans one project at the merge commit for the post-merge approval (<see cref="ApplyFallback"/>): init, plan -out,
/// show -json, artifacts, then a check run on the merge commit with the plan and an <c>apply</c> button. Never
/// auto-approved: after a refusal or a failure a person looks again. Reentrant like <see cref="PlanJob"/>.
/// </summary>
public sealed partial class ApplyFallbackPlanJob(
    IStateStore state,
    GitMirror mirror,
    IInstallationTokenSource tokens,
    IGitHubChecks checks,
    IArtifactStore artifacts,
    ITerraformRunner terraform,
    ApplyReporter reporter,
    IOptions<EnsembleOptions> ensembleOptions,
    SecretMasker masker,
    TimeProvider time,
    ILogger<ApplyFallbackPlanJob> logger)
{
    [AutomaticRetry(Attempts = 3)]
    public async Task RunAsync(long runId, CancellationToken cancellationToken)
    {
        var run = await state.GetRunAsync(runId, cancellationToken);
        var head = run is null ? null : await state.GetHeadAsync(run.HeadId, cancellationToken);
        if (run is null || head is null || run.CheckRunId is null)
        {
            return;
        }

        var started = new RunEvent.PlanStarted();
        if (!await state.TransitionRunAsync(run.Id, RunStateMachine.SourcesOf(started),
                new RunUpdate(RunStateMachine.TargetOf(started), time.GetUtcNow()) { IncrementAttempts = true, SetStarted = true }, cancellationToken))
        {
            return;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["Repository"] = head.Repo.FullName, ["PullRequest"] = head.Number, ["Project"] = run.ProjectPath, ["RunId"] = run.Id,
        });
        run = (await state.GetRunAsync(run.Id, cancellationToken))!;
        var workspace = Path.Combine(Path.GetFullPath(ensembleOptions.Value.WorkDirectory), "workspaces", $"postmerge-{run.Id}-{run.Attempts}");
        var log = new StringBuilder();
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
            await ShowAsync(head, run, CheckStatus.InProgress, null, new CheckRunOutput("Planning the merge commit…",
                $"Post-merge plan of `{run.ProjectPath}` at `{run.PlanSha[..7]}`. {run.Reasons}"), [], cancellationToken);

            var token = await tokens.GetTokenAsync(head.Repo.InstallationId, cancellationToken);
            var runMasker = masker.With([token]);
            await mirror.FetchAsync(head.Repo, token, [$"refs/heads/{head.BaseRef}"], [run.PlanSha], cancellationToken);
            await mirror.CheckoutAsync(head.Repo, run.PlanSha, source, cancellationToken);
            var projectDir = run.ProjectPath == "." ? source : Path.Combine(source, run.ProjectPath);
            if (!Directory.Exists(projectDir))
            {
                await FailAsync(head, run, "checkout", $"The project directory `{run.ProjectPath}` does not exist in the merge commit.", cancellationToken);
                return;
            }

            async Task<TerraformResult> Terraform(IReadOnlyList<string> args, Func<string, ValueTask>? capture = null)
            {
                RunLog.Append(log, $"$ terraform {string.Join(' ', args)}");
                return await terraform.RunAsync(new TerraformInvocation(projectDir, args, home, temp), async line =>
                {
                    if (capture is not null)
                    {
                        await capture(line);
                        return;
                    }

                    RunLog.Append(log, runMasker.Mask(line));
                }, cancellationToken);
            }

            if ((await Terraform(["init", "-input=false", "-no-color"])).ExitCode != 0)
            {
                await FailAsync(head, run, "init", log.ToString(), cancellationToken);
                return;
            }

            var planFile = Path.Combine(output, "plan.tfplan");
            if ((await Terraform(["plan", "-input=false", "-no-color", "-detailed-exitcode", $"-out={planFile}"])).ExitCode is not (0 or 2))
            {
                await FailAsync(head, run, "plan", log.ToString(), cancellationToken);
                return;
            }

            // To a file, then uploaded and parsed from it: the plan's bytes are in memory once (see PlanJob).
            var jsonFile = Path.Combine(output, "plan.json");
            TerraformResult show;
            await using (var writer = new StreamWriter(jsonFile, append: false, new UTF8Encoding(false)) { NewLine = "\n" })
            {
                show = await Terraform(["show", "-json", "-no-color", planFile], async line => await writer.WriteLineAsync(line));
            }

            if (show.ExitCode != 0)
            {
                await FailAsync(head, run, "show", log.ToString(), cancellationToken);
                return;
            }

            string Key(string name) => ArtifactKeys.For(head.Repo, head.Number, run.ProjectPath, head.HeadSha, name);
            string planSha256;
            await using (var planStream = File.OpenRead(planFile))
            {
                planSha256 = await artifacts.PutAsync(Key(ArtifactKeys.PlanFile), planStream, cancellationToken);
            }

            await using (var jsonStream = File.OpenRead(jsonFile))
            {
                await artifacts.PutAsync(Key(ArtifactKeys.PlanJson), jsonStream, cancellationToken);
            }

            await artifacts.PutAsync(Key(ArtifactKeys.PlanLog), new MemoryStream(Encoding.UTF8.GetBytes(log.ToString()), writable: false), cancellationToken);
            PlanParseResult parsed;
            await using (var jsonStream = File.OpenRead(jsonFile))
            {
                parsed = await PlanDocument.ParseAsync(jsonStream, cancellationToken);
            }

            if (parsed.Plan is not { } document)
            {
                RunLog.Append(log, $"Ensemble could not read terraform's plan JSON: {parsed.Error}");
                await FailAsync(head, run, "show", log.ToString(), cancellationToken);
                return;
            }

            var summary = PlanSummary.From(document);
            var finished = new RunEvent.PlanFinished(summary.HasChanges, PlanFingerprint.Compute(document));
            if (!await state.TransitionRunAsync(run.Id, RunStateMachine.SourcesOf(finished),
                    new RunUpdate(RunStateMachine.TargetOf(finished), time.GetUtcNow())
                    {
                        SetFinished = true, PlanSha256 = planSha256, Fingerprint = finished.Fingerprint, Summary = PlanJob.CountsLine(summary),
                    }, cancellationToken))
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
            try
            {
                if (Directory.Exists(workspace))
                {
                    Directory.Delete(workspace, recursive: true);
                }
            }
            catch (IOException)
            {
                // A leftover workspace is harmless: every attempt uses its own directory.
            }
        }
    }

    private async Task FailAsync(PullRequestHead head, ProjectRun run, string step, string logText, CancellationToken ct)
    {
        var failed = new RunEvent.PlanFailed(step);
        if (!await state.TransitionRunAsync(run.Id, RunStateMachine.SourcesOf(failed),
                new RunUpdate(RunStateMachine.TargetOf(failed), time.GetUtcNow()) { SetFinished = true, Error = $"terraform {step} failed", Summary = $"{step} failed" }, ct))
        {
            return;
        }

        var tail = logText.Length <= 30_000 ? logText : logText[^30_000..];
        await ShowAsync(head, run, CheckStatus.Completed, CheckConclusion.Failure,
            PlanRenderer.RenderFailure(run.ProjectPath, step, tail, "a new pull request that fixes the project"), [], ct);
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
