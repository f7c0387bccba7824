using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.State;

/// <summary>A webhook delivery as recorded before it is acknowledged. The delivery id identifies the event across redeliveries.</summary>
public sealed record Delivery(string DeliveryId, string Event, string? Action, long? InstallationId, string? Repository, string Payload, DateTimeOffset ReceivedAt, DateTimeOffset? ProcessedAt);

/// <summary>One head commit of one pull request: the unit the aggregate check run <c>ensemble</c> reports on.</summary>
public sealed record PullRequestHead
{
    public required long Id { get; init; }
    public required RepoRef Repo { get; init; }
    public required int Number { get; init; }
    public required string HeadSha { get; init; }
    public required string BaseSha { get; init; }
    public required string BaseRef { get; init; }
    public required string Author { get; init; }
    public required HeadStatus Status { get; init; }
    public long? AggregateCheckRunId { get; init; }
    /// <summary>Problems found while discovering (missing module dirs, cycles), shown on the aggregate.</summary>
    public string? Problems { get; init; }
}

public enum HeadStatus { Discovering, Discovered, DiscoveryFailed, Superseded, Closed }

/// <summary>A project's plan for one pull-request head: the row behind one <c>ensemble: &lt;path&gt;</c> check run.</summary>
public sealed record ProjectRun
{
    public required long Id { get; init; }
    public required long HeadId { get; init; }
    public required string ProjectPath { get; init; }
    public required bool Destroy { get; init; }
    /// <summary>The commit whose files are planned: the head, or for a deleted project the merge base.</summary>
    public required string PlanSha { get; init; }
    public required RunStatus Status { get; init; }
    public long? CheckRunId { get; init; }
    public int Attempts { get; init; }
    public string? Reasons { get; init; }
    public string? PlanSha256 { get; init; }
    public string? Fingerprint { get; init; }
    /// <summary>Counts line of the plan ("+1 ~0 ±0 −0"), kept so the aggregate can list it without reading artifacts.</summary>
    public string? Summary { get; init; }
    public string? Error { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
}

/// <summary>Per (PR, project) states of DESIGN.md's state machine.</summary>
public enum RunStatus
{
    Queued, Planning, NoChanges, AwaitingApproval, Failed, Approved, Superseded, Applying, Applied, ApplyFailed, Abandoned,
}

public static class RunStatusNames
{
    public static string ToDb(this RunStatus s) => s switch
    {
        RunStatus.Queued => "queued",
        RunStatus.Planning => "planning",
        RunStatus.NoChanges => "no_changes",
        RunStatus.AwaitingApproval => "awaiting_approval",
        RunStatus.Failed => "failed",
        RunStatus.Approved => "approved",
        RunStatus.Superseded => "superseded",
        RunStatus.Applying => "applying",
        RunStatus.Applied => "applied",
        RunStatus.ApplyFailed => "apply_failed",
        RunStatus.Abandoned => "abandoned",
        _ => throw new ArgumentOutOfRangeException(nameof(s)),
    };

    public static RunStatus ParseRunStatus(string s) => s switch
    {
        "queued" => RunStatus.Queued,
        "planning" => RunStatus.Planning,
        "no_changes" => RunStatus.NoChanges,
        "awaiting_approval" => RunStatus.AwaitingApproval,
        "failed" => RunStatus.Failed,
        "approved" => RunStatus.Approved,
        "superseded" => RunStatus.Superseded,
        "applying" => RunStatus.Applying,
        "applied" => RunStatus.Applied,
        "apply_failed" => RunStatus.ApplyFailed,
        "abandoned" => RunStatus.Abandoned,
        _ => throw new FormatException($"Unknown run status '{s}' in the database."),
    };

    public static string ToDb(this HeadStatus s) => s switch
    {
        HeadStatus.Discovering => "discovering",
        HeadStatus.Discovered => "discovered",
        HeadStatus.DiscoveryFailed => "discovery_failed",
        HeadStatus.Superseded => "superseded",
        HeadStatus.Closed => "closed",
        _ => throw new ArgumentOutOfRangeException(nameof(s)),
    };

    public static HeadStatus ParseHeadStatus(string s) => s switch
    {
        "discovering" => HeadStatus.Discovering,
        "discovered" => HeadStatus.Discovered,
        "discovery_failed" => HeadStatus.DiscoveryFailed,
        "superseded" => HeadStatus.Superseded,
        "closed" => HeadStatus.Closed,
        _ => throw new FormatException($"Unknown head status '{s}' in the database."),
    };
}

/// <summary>Who approved and how. For an automatic approval, <see cref="ApprovedBy"/> is the person whose identical plan it copies.</summary>
public sealed record Approval(string ApprovedBy, bool Automatic, DateTimeOffset At);

/// <summary>One row of the approval audit trail: who, when, which plan (fingerprint, artifact hash), which head SHA.</summary>
public sealed record ApprovalAudit(
    long RunId, string ProjectPath, string HeadSha, string Fingerprint, string? PlanSha256, string ApprovedBy, bool Automatic, DateTimeOffset At);

/// <summary>A pull request's merge: the head that was merged and the merge commit its approved plans are checked against.</summary>
public sealed record MergeRecord(long Id, long HeadId, string MergeSha, long? CommentId, DateTimeOffset CreatedAt);

/// <summary>One apply of one run (at most one per run). <see cref="Outcome"/> is null while it runs.</summary>
public sealed record ApplyRecord(
    long RunId, long MergeId, string JobId, long? MergeCheckRunId, ApplyOutcome? Outcome, string? Message, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt);

/// <summary>How an apply ended. Everything but <see cref="Applied"/> leaves the run <c>apply_failed</c>.</summary>
public enum ApplyOutcome
{
    /// <summary>terraform apply succeeded.</summary>
    Applied,
    /// <summary>terraform init or apply failed.</summary>
    Failed,
    /// <summary>Verification refused the plan (artifact hash, inputs changed by the merge): nothing ran.</summary>
    Refused,
    /// <summary>terraform said "Saved plan is stale": the state moved since the plan.</summary>
    Stale,
    /// <summary>The worker stopped during the apply; it is reported, never re-run.</summary>
    Interrupted,
    /// <summary>A dependency's apply failed, so this one never started.</summary>
    Blocked,
}

public static class ApplyOutcomeNames
{
    public static string ToDb(this ApplyOutcome o) => o switch
    {
        ApplyOutcome.Applied => "applied",
        ApplyOutcome.Failed => "failed",
        ApplyOutcome.Refused => "refused",
        ApplyOutcome.Stale => "stale",
        ApplyOutcome.Interrupted => "interrupted",
        ApplyOutcome.Blocked => "blocked",
        _ => throw new ArgumentOutOfRangeException(nameof(o)),
    };

    public static ApplyOutcome Parse(string s) => s switch
    {
        "applied" => ApplyOutcome.Applied,
        "failed" => ApplyOutcome.Failed,
        "refused" => ApplyOutcome.Refused,
        "stale" => ApplyOutcome.Stale,
        "interrupted" => ApplyOutcome.Interrupted,
        "blocked" => ApplyOutcome.Blocked,
        _ => throw new FormatException($"Unknown apply outcome '{s}' in the database."),
    };
}

/// <summary>A run with the pull-request head it belongs to.</summary>
public sealed record RunAndHead(ProjectRun Run, PullRequestHead Head);

/// <summary>A project run to add in <see cref="RunStatus.Queued"/>: what <see cref="IStateStore.AddRunAsync"/> takes for one.</summary>
public sealed record NewRun(string ProjectPath, bool Destroy, string PlanSha, string Reasons);

/// <summary>What was last published to one GitHub object: a digest of its content, whether it was an interim view.</summary>
public sealed record PublishedMemo(string Digest, bool Interim, DateTimeOffset PublishedAt, DateTimeOffset? FlushDue);
