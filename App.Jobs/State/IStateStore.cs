using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.State;

/// <summary>Ensemble's durable state: deliveries, pull-request heads and project runs. PostgreSQL or embedded SQLite.</summary>
public interface IStateStore
{
    /// <summary>Creates or migrates the schema. Safe to call from several processes at once.</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>Records a delivery; returns false when this delivery id was already recorded (a redelivery).</summary>
    Task<bool> RecordDeliveryAsync(Delivery delivery, CancellationToken cancellationToken = default);

    /// <summary>Records a batch in one transaction; returns the ids that were new (the rest are redeliveries).</summary>
    Task<IReadOnlySet<string>> RecordDeliveriesAsync(IReadOnlyList<Delivery> deliveries, CancellationToken cancellationToken = default);

    Task<Delivery?> GetDeliveryAsync(string deliveryId, CancellationToken cancellationToken = default);

    Task MarkDeliveryProcessedAsync(string deliveryId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Deliveries recorded but not processed, oldest first (re-enqueued at start and by the sweeper).</summary>
    Task<IReadOnlyList<string>> ListUnprocessedDeliveriesAsync(DateTimeOffset receivedBefore, int limit, CancellationToken cancellationToken = default);

    Task<long> CountDeliveriesAsync(CancellationToken cancellationToken = default);

    /// <summary>Marks up to <paramref name="limit"/> recorded deliveries as enqueued and returns their ids (the outbox).</summary>
    Task<IReadOnlyList<string>> ClaimDeliveriesToEnqueueAsync(int limit, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns deliveries enqueued before <paramref name="enqueuedBefore"/> but never processed to the outbox (their
    /// job was lost with an in-memory queue or a crash between claim and enqueue). Jobs are reentrant, so a second
    /// enqueue is harmless.
    /// </summary>
    Task<int> ReleaseStaleDeliveriesAsync(DateTimeOffset enqueuedBefore, CancellationToken cancellationToken = default);

    /// <summary>Returns the head row for (repo, PR, head SHA), creating it in <see cref="HeadStatus.Discovering"/> if absent.</summary>
    Task<PullRequestHead> UpsertHeadAsync(RepoRef repo, int number, string headSha, string baseSha, string baseRef, string author, DateTimeOffset now, CancellationToken cancellationToken = default);

    Task<PullRequestHead?> GetHeadAsync(long headId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<PullRequestHead>> ListHeadsAsync(RepoRef repo, int number, CancellationToken cancellationToken = default);

    /// <summary>Heads with this commit as their head (one per PR that has it), for events that name only a SHA.</summary>
    Task<IReadOnlyList<PullRequestHead>> ListHeadsBySha(RepoRef repo, string headSha, CancellationToken cancellationToken = default);

    /// <summary>
    /// The latest heads of open pull requests into <paramref name="baseRef"/> (not superseded, not closed), oldest first:
    /// what a push to that branch may make stale.
    /// </summary>
    Task<IReadOnlyList<PullRequestHead>> ListOpenHeadsAsync(RepoRef repo, string baseRef, CancellationToken cancellationToken = default);

    Task SetHeadAggregateCheckRunAsync(long headId, long checkRunId, CancellationToken cancellationToken = default);

    Task SetHeadStatusAsync(long headId, HeadStatus status, string? problems, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Adds a project run in <see cref="RunStatus.Queued"/> unless one exists for (head, project); returns the row either way.</summary>
    Task<ProjectRun> AddRunAsync(long headId, string projectPath, bool destroy, string planSha, string reasons, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="AddRunAsync"/> for many projects of one head (a discovery), in one statement per
    /// <see cref="SqlStateStore.RunsPerInsert"/> projects instead of one each; runs that exist are left as they are.
    /// </summary>
    Task AddRunsAsync(long headId, IReadOnlyList<NewRun> runs, DateTimeOffset now, CancellationToken cancellationToken = default);

    Task<ProjectRun?> GetRunAsync(long runId, CancellationToken cancellationToken = default);

    /// <summary>A run and the head it belongs to, in one read (what every job of one run starts with); null for an unknown run.</summary>
    Task<RunAndHead?> GetRunAndHeadAsync(long runId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ProjectRun>> ListRunsAsync(long headId, CancellationToken cancellationToken = default);

    /// <summary>
    /// What was last shown on <paramref name="target"/> while a run of the head is still queued or planning (its
    /// aggregate is then interim); null when none is, or when nothing was shown. One statement: a plan job asks it twice.
    /// </summary>
    Task<PublishedMemo?> GetPublishedWhilePlanningAsync(long headId, string target, CancellationToken cancellationToken = default);

    /// <summary>Runs in a non-final state (queued, planning), re-enqueued at start when jobs live in memory.</summary>
    Task<IReadOnlyList<ProjectRun>> ListUnfinishedRunsAsync(CancellationToken cancellationToken = default);

    Task SetRunCheckRunAsync(long runId, long checkRunId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves a run from one of <paramref name="from"/> to <paramref name="update"/>'s status atomically and returns it as
    /// it is now; returns null (and changes nothing) when the run is in another state — how jobs stay reentrant under
    /// at-least-once delivery.
    /// </summary>
    Task<ProjectRun?> TransitionRunAsync(long runId, IReadOnlyCollection<RunStatus> from, RunUpdate update, CancellationToken cancellationToken = default);

    /// <summary>
    /// Approves a run atomically with its audit record: only while it awaits approval and only for the plan with
    /// <paramref name="fingerprint"/>. Returns false (nothing recorded) otherwise.
    /// </summary>
    Task<bool> ApproveRunAsync(long runId, string fingerprint, Approval approval, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>The newest approval of a project in a pull request (manual or automatic), the base for auto-approval.</summary>
    Task<ApprovalAudit?> LastApprovalAsync(RepoRef repo, int number, string projectPath, CancellationToken cancellationToken = default);

    /// <summary>Every approval of a pull request, oldest first (the audit trail).</summary>
    Task<IReadOnlyList<ApprovalAudit>> ListApprovalsAsync(RepoRef repo, int number, CancellationToken cancellationToken = default);

    /// <summary>
    /// Serialises terraform runs on one project's state (its backend) across all pull requests and workers: a session
    /// lock in PostgreSQL that dies with its connection, so a killed worker never leaves a project locked.
    /// </summary>
    Task<IAsyncDisposable> LockProjectAsync(RepoRef repo, string projectPath, CancellationToken cancellationToken = default);

    /// <summary>Serialises work on one head (aggregate publication) across threads and processes.</summary>
    Task<IAsyncDisposable> LockHeadAsync(long headId, CancellationToken cancellationToken = default);

    /// <summary>Records that the head was merged as <paramref name="mergeSha"/>; returns the existing record on a repeat.</summary>
    Task<MergeRecord> RecordMergeAsync(long headId, string mergeSha, DateTimeOffset now, CancellationToken cancellationToken = default);

    Task<MergeRecord?> GetMergeByHeadAsync(long headId, CancellationToken cancellationToken = default);

    /// <summary>The PR comment summarising the merge's applies, created once and then edited.</summary>
    Task SetMergeCommentAsync(long mergeId, long commentId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes a run for apply atomically: moves it from one of <paramref name="from"/> to <c>applying</c> and records the
    /// apply with the job that took it. False (nothing changed) when the run is not in those states — a duplicate
    /// webhook, a retried job or a second worker never gets a second apply.
    /// </summary>
    Task<bool> StartApplyAsync(long runId, long mergeId, string jobId, IReadOnlyCollection<RunStatus> from, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Ends an apply: the run moves to <paramref name="to"/> (from one of <paramref name="from"/>) with the outcome recorded.</summary>
    Task<bool> FinishApplyAsync(long runId, RunStatus to, IReadOnlyCollection<RunStatus> from, ApplyOutcome outcome, string message, DateTimeOffset now, CancellationToken cancellationToken = default);

    Task<ApplyRecord?> GetApplyAsync(long runId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ApplyRecord>> ListAppliesAsync(long mergeId, CancellationToken cancellationToken = default);

    /// <summary>The check run <c>ensemble: &lt;project&gt;</c> on the merge commit that shows this apply.</summary>
    Task SetApplyCheckRunAsync(long runId, long checkRunId, CancellationToken cancellationToken = default);

    /// <summary>Runs of merged heads still to apply (approved) or caught applying: after a restart of the embedded mode, whose queue died.</summary>
    Task<IReadOnlyList<ProjectRun>> ListMergedRunsToApplyAsync(CancellationToken cancellationToken = default);

    /// <summary>What was last shown on <paramref name="target"/> (a check run or comment), or null when nothing was.</summary>
    Task<PublishedMemo?> GetPublishedAsync(string target, CancellationToken cancellationToken = default);

    Task RecordPublishedAsync(string target, string digest, bool interim, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks a catch-up publish of <paramref name="target"/> as due at <paramref name="due"/>. True when the caller should
    /// schedule it: none is pending (or the pending one is overdue, so it was lost).
    /// </summary>
    Task<bool> TryScheduleFlushAsync(string target, DateTimeOffset due, DateTimeOffset now, CancellationToken cancellationToken = default);
}

/// <summary>The fields a transition sets. Null fields are left as they are.</summary>
public sealed record RunUpdate(RunStatus Status, DateTimeOffset At)
{
    public bool IncrementAttempts { get; init; }
    public bool SetStarted { get; init; }
    public bool SetFinished { get; init; }
    public string? PlanSha256 { get; init; }
    public string? Fingerprint { get; init; }
    public string? Summary { get; init; }
    public string? Error { get; init; }
}
