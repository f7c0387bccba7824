using System.Text;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.Plans;
using Ensemble.Jobs.State;
using Ensemble.Jobs.Terraform;
using Microsoft.Extensions.Options;

namespace Ensemble.Jobs.Jobs;

/// <summary>What to plan: one project at one commit, and where its artifacts go.</summary>
/// <param name="Repo">The repository.</param>
/// <param name="Number">The pull request (artifact keys).</param>
/// <param name="ArtifactSha">The head SHA the artifact keys are filed under.</param>
/// <param name="ProjectPath">Repo-relative project directory, <c>.</c> for the root.</param>
/// <param name="PlanSha">The commit to check out and plan.</param>
/// <param name="Destroy">Plan with <c>-destroy</c> (a deleted project, planned from the base copy).</param>
/// <param name="FetchRefs">Refs to fetch into the mirror so <paramref name="PlanSha"/> is present.</param>
/// <param name="WorkspaceName">This attempt's directory under <c>{WorkDirectory}/workspaces/</c>; every attempt has its own.</param>
/// <param name="BaseSha">The pull request's base commit (its default-branch <c>.ensemble.yml</c>, see <see cref="ProjectInputs"/>).</param>
public sealed record PlanRequest(
    RepoRef Repo, int Number, string ArtifactSha, string ProjectPath, string PlanSha, bool Destroy, IReadOnlyList<string> FetchRefs, string WorkspaceName,
    string BaseSha)
{
    /// <summary>
    /// Pick terraform's version from the project (<c>.terraform-version</c>, <c>required_version</c>) and this override;
    /// <c>false</c> runs <c>Terraform:Binary</c> as it is.
    /// </summary>
    public bool ResolveVersion { get; init; } = true;

    /// <summary>The version <c>.ensemble.yml</c> asks for, if any.</summary>
    public string? VersionOverride { get; init; }
}

/// <summary>A finished plan (<see cref="Plan"/> set) or the step that failed and what to show for it.</summary>
public sealed record PlanOutcome
{
    public PlanDocument? Plan { get; init; }
    public PlanSummary? Summary { get; init; }
    public string? Fingerprint { get; init; }
    public string? PlanSha256 { get; init; }

    /// <summary>The stored <c>show -json</c>, for full-plan links.</summary>
    public string? PlanJsonKey { get; init; }

    /// <summary><c>checkout</c>, <c>version</c>, <c>init</c>, <c>plan</c> or <c>show</c>.</summary>
    public string? FailedStep { get; init; }

    /// <summary>The reason or the log's last 30,000 characters (masked).</summary>
    public string? FailureText { get; init; }

    /// <summary>Diagnostics that name a file and line, for the PR's diff.</summary>
    public IReadOnlyList<CheckRunAnnotation> Annotations { get; init; } = [];

    public static PlanOutcome Failed(string step, string text, IReadOnlyList<CheckRunAnnotation>? annotations = null) =>
        new() { FailedStep = step, FailureText = text, Annotations = annotations ?? [] };
}

/// <summary>Where a plan shows its progress: each phase as it starts, then terraform's (masked) lines.</summary>
public interface IPlanProgress
{
    /// <summary>
    /// A new phase begins; <paramref name="firstLine"/> (the command) belongs to its output. Shown with the next
    /// progress report (quick phases of a quick plan never cost a request of their own).
    /// </summary>
    Task PhaseAsync(string phase, string? firstLine, CancellationToken ct);

    /// <summary>The plan cannot go on yet (another run holds the project): shown at once, since it may last.</summary>
    Task WaitingAsync(string what, CancellationToken ct);

    /// <summary>One line of terraform's output; may be shown later or not at all (rate limits).</summary>
    Task LineAsync(string line, CancellationToken ct);

    public static IPlanProgress None { get; } = new Silent();

    private sealed class Silent : IPlanProgress
    {
        public Task PhaseAsync(string phase, string? firstLine, CancellationToken ct) => Task.CompletedTask;

        public Task WaitingAsync(string what, CancellationToken ct) => Task.CompletedTask;

        public Task LineAsync(string line, CancellationToken ct) => Task.CompletedTask;
    }
}

/// <summary>
/// Runs terraform plan for one project at one commit — the step the pull-request plan (<see cref="PlanJob"/>) and the
/// post-merge plan (<see cref="ApplyFallbackPlanJob"/>) share: a fresh workspace, fetch and checkout of the project's
/// inputs (<see cref="ProjectInputs"/>), the project lock,
/// <c>init</c>, <c>plan -out</c>, <c>show -json</c>, the plan file, JSON and log stored as artifacts, the plan parsed and
/// fingerprinted. Terraform failures are outcomes; outages and cancellation are exceptions. State transitions and check
/// runs stay with the jobs, which differ there.
/// </summary>
public sealed class PlanExecution(
    IStateStore state,
    GitMirror mirror,
    ProjectInputs inputs,
    IInstallationTokenSource tokens,
    IArtifactStore artifacts,
    ITerraformRunner terraform,
    IOptions<EnsembleOptions> ensembleOptions,
    IOptions<TerraformOptions> terraformOptions,
    SecretMasker masker)
{
    /// <summary>How much of a failed run's log the check run shows (GitHub's limit is 65,535 characters).</summary>
    public const int FailureTailChars = 30_000;

    /// <summary>A project lock not taken within this long is shown on the check run as what the plan waits for.</summary>
    private static readonly TimeSpan LockNoticeDelay = TimeSpan.FromSeconds(1);

    public async Task<PlanOutcome> RunAsync(PlanRequest request, IPlanProgress progress, CancellationToken ct)
    {
        using var workspace = RunWorkspace.Create(ensembleOptions.Value.WorkDirectory, request.WorkspaceName);
        var token = await tokens.GetTokenAsync(request.Repo.InstallationId, ct);
        var runMasker = masker.With([token]);
        async Task CheckoutAsync()
        {
            var scope = await inputs.OfAsync(request.Repo, request.Number, request.BaseSha, request.PlanSha, request.ProjectPath, ct);
            await mirror.CheckoutAsync(request.Repo, request.PlanSha, workspace.Source, scope.Checkout, ct);
        }

        try
        {
            // Discovery fetched this commit seconds ago, almost always into this very mirror: check it out at once and
            // fetch only when git cannot find it (a fetch, or even a presence check, per plan would cost every plan a
            // git process and queue the workers on the mirror lock).
            await CheckoutAsync();
        }
        catch (GitException) when (!ct.IsCancellationRequested)
        {
            await mirror.FetchAsync(request.Repo, token, request.FetchRefs, [request.PlanSha], ct);
            await CheckoutAsync();
        }
        var projectDir = workspace.ProjectDirectory(request.ProjectPath);
        if (!Directory.Exists(projectDir))
        {
            return PlanOutcome.Failed("checkout", $"The project directory `{request.ProjectPath}` does not exist at {request.PlanSha[..Math.Min(7, request.PlanSha.Length)]}.");
        }

        // The terraform or OpenTofu version the project asks for, or a clear failure — never a run with the wrong one.
        TerraformTool? tool = null;
        if (request.ResolveVersion)
        {
            var resolution = TerraformRunnerFactory.ResolveTool(terraformOptions.Value,
                TerraformVersionResolver.ReadHints(projectDir, request.ProjectPath, request.VersionOverride));
            if (resolution.Error is { } versionError)
            {
                return PlanOutcome.Failed("version", versionError);
            }

            tool = resolution.Tool;
        }

        var log = new StringBuilder();
        string Key(string name) => ArtifactKeys.For(request.Repo, request.Number, request.ProjectPath, request.ArtifactSha, name);

        async Task<PlanOutcome> FailedWithLog(string step)
        {
            var text = log.ToString();
            await artifacts.PutAsync(Key(ArtifactKeys.PlanLog), new MemoryStream(Encoding.UTF8.GetBytes(text), writable: false), ct);
            // Diagnostics that name a file and line become annotations on that line of the PR's diff.
            var annotations = TerraformDiagnostics.ToAnnotations(TerraformDiagnostics.Parse(text), request.ProjectPath);
            return PlanOutcome.Failed(step, RunLog.Tail(log, FailureTailChars), annotations);
        }

        // One run at a time per project state, across pull requests and workers (terraform's own lock would fail
        // the second run instead of letting it wait its turn).
        var locking = state.LockProjectAsync(request.Repo, request.ProjectPath, ct);
        if (await Task.WhenAny(locking, Task.Delay(LockNoticeDelay, ct)) != locking)
        {
            await progress.WaitingAsync("Waiting for another run of this project to finish", ct);
        }

        await using var projectLock = await locking;

        var planFile = Path.Combine(workspace.Output, ArtifactKeys.PlanFile);
        List<string> planArgs = ["plan", "-input=false", "-no-color", "-detailed-exitcode", $"-out={planFile}"];
        if (request.Destroy)
        {
            planArgs.Add("-destroy");
        }

        // The JSON goes to a file, not a MemoryStream (which doubles as it grows): uploaded and parsed from there, so
        // the plan's bytes are in memory once, in the parsed plan.
        var jsonFile = Path.Combine(workspace.Output, "plan.json");
        (string Step, string Phase, TerraformStep Command)[] steps =
        [
            ("init", "Running terraform init", new TerraformStep(["init", "-input=false", "-no-color"], [0])),
            ("plan", "Running terraform plan", new TerraformStep(planArgs, [0, 2])),
            ("show", "Reading the plan (terraform show -json)", new TerraformStep(["show", "-json", "-no-color", planFile], [0]) { StdoutFile = jsonFile }),
        ];
        var results = await terraform.RunStepsAsync(
            new TerraformSteps(projectDir, workspace.Home, workspace.Temp, [.. steps.Select(s => s.Command)]) { Tool = tool },
            async i =>
            {
                var header = $"$ terraform {string.Join(' ', steps[i].Command.Arguments)}";
                RunLog.Append(log, header);
                await progress.PhaseAsync(steps[i].Phase, header, ct);
            },
            async line =>
            {
                var masked = runMasker.Mask(line);
                RunLog.Append(log, masked);
                await progress.LineAsync(masked, ct);
            },
            ct);
        var last = Math.Max(0, results.Count - 1);
        if (results.Count < steps.Length || results[last].TimedOut || !steps[last].Command.SuccessCodes.Contains(results[last].ExitCode))
        {
            if (steps[last].Command.StdoutFile is { } output && File.Exists(output))
            {
                RunLog.Append(log, runMasker.Mask(await File.ReadAllTextAsync(output, ct)));
            }

            return await FailedWithLog(steps[last].Step);
        }

        string planSha256;
        await using (var planStream = File.OpenRead(planFile))
        {
            planSha256 = await artifacts.PutAsync(Key(ArtifactKeys.PlanFile), planStream, ct);
        }

        await using (var jsonStream = File.OpenRead(jsonFile))
        {
            await artifacts.PutAsync(Key(ArtifactKeys.PlanJson), jsonStream, ct);
        }

        await artifacts.PutAsync(Key(ArtifactKeys.PlanLog), new MemoryStream(Encoding.UTF8.GetBytes(log.ToString()), writable: false), ct);

        PlanParseResult parsed;
        await using (var jsonStream = File.OpenRead(jsonFile))
        {
            parsed = await PlanDocument.ParseAsync(jsonStream, ct);
        }

        if (parsed.Plan is not { } document)
        {
            RunLog.Append(log, $"Ensemble could not read terraform's plan JSON: {parsed.Error}");
            return await FailedWithLog("show");
        }

        return new PlanOutcome
        {
            Plan = document,
            Summary = PlanSummary.From(document),
            Fingerprint = PlanFingerprint.Compute(document),
            PlanSha256 = planSha256,
            PlanJsonKey = Key(ArtifactKeys.PlanJson),
        };
    }
}
