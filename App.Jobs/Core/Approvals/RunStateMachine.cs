using Ensemble.Jobs.State;

namespace Ensemble.Jobs.Core.Approvals;

/// <summary>Who approved: a GitHub login. For an automatic approval, the person whose manual approval was copied.</summary>
public sealed record Approver
{
    public Approver(string login)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(login);
        Login = login.StartsWith('@') ? login[1..] : login;
    }

    public string Login { get; }

    /// <summary>Logins compare case-insensitively, as GitHub treats them.</summary>
    public bool Is(string login) => string.Equals(Login, login.TrimStart('@'), StringComparison.OrdinalIgnoreCase);

    public override string ToString() => "@" + Login;
}

public enum ApprovalKind { Manual, Automatic }

/// <summary>What the machine needs to know of a run besides its status: the plan an approval must match.</summary>
/// <param name="Fingerprint">The current plan's fingerprint; null until a plan finished.</param>
/// <param name="HeadSha">The pull-request head commit the run belongs to.</param>
public sealed record RunSnapshot(RunStatus Status, string? Fingerprint, string HeadSha);

/// <summary>Something that happens to one (PR head, project) run. Each event has exactly one target status.</summary>
public abstract record RunEvent
{
    private RunEvent() { }

    /// <summary>A plan job takes the run. Also from <c>planning</c>: Hangfire delivers at least once, and a job
    /// delivered again after its worker died takes the run over (the job is reentrant).</summary>
    public sealed record PlanStarted : RunEvent;

    /// <summary>Terraform finished the plan: changes wait for approval, no changes need none.</summary>
    public sealed record PlanFinished : RunEvent
    {
        public PlanFinished(bool hasChanges, string fingerprint)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(fingerprint);
            HasChanges = hasChanges;
            Fingerprint = fingerprint;
        }

        public bool HasChanges { get; }
        public string Fingerprint { get; }
    }

    /// <summary>A plan step (init, plan, show, upload) failed; <paramref name="Step"/> names it for the user.</summary>
    public sealed record PlanFailed(string Step) : RunEvent;

    /// <summary>The worker running the plan is gone (restart, lost lease): the run goes back to the queue for a retry.</summary>
    public sealed record WorkerLost : RunEvent;

    /// <summary>An approval of one plan, manual (a click) or automatic (identical to an earlier approved plan).</summary>
    public sealed record Approve : RunEvent
    {
        public Approve(Approver by, DateTimeOffset at, ApprovalKind kind, string fingerprint, string headSha)
        {
            ArgumentNullException.ThrowIfNull(by);
            ArgumentException.ThrowIfNullOrWhiteSpace(fingerprint);
            ArgumentException.ThrowIfNullOrWhiteSpace(headSha);
            By = by;
            At = at;
            Kind = kind;
            Fingerprint = fingerprint;
            HeadSha = headSha;
        }

        public Approver By { get; }
        public DateTimeOffset At { get; }
        public ApprovalKind Kind { get; }
        /// <summary>The fingerprint of the plan the approver saw; must be the run's current one.</summary>
        public string Fingerprint { get; }
        /// <summary>The head commit of the check run that was clicked; must be the run's head.</summary>
        public string HeadSha { get; }
    }

    /// <summary>Plan again (<c>/ensemble replan</c> or the replan button). Earlier approvals stay in history.</summary>
    public sealed record Replan : RunEvent;

    /// <summary>A newer commit was pushed: this head's run will never be applied.</summary>
    public sealed record Supersede : RunEvent;

    /// <summary>The pull request was closed, merged or not.</summary>
    public sealed record Close(bool Merged) : RunEvent;

    /// <summary>The apply job takes an approved run after the merge.</summary>
    public sealed record ApplyStarted : RunEvent;

    public sealed record ApplyFinished(bool Success) : RunEvent;
}

/// <summary>The machine's answer: a target status, or a refusal a user can read.</summary>
public abstract record TransitionResult
{
    private TransitionResult() { }

    public sealed record Allowed(RunStatus To) : TransitionResult;

    public sealed record Refused(string Reason) : TransitionResult;

    public bool IsAllowed => this is Allowed;
}

/// <summary>
/// The per (PR head, project) state machine of DESIGN.md, "Approval and apply rules". Pure.
/// It is the single source of truth: the state store does compare-and-set updates
/// <c>SET status = TargetOf(e) WHERE status IN SourcesOf(e)</c>, so a race between two events
/// (a click and a push, a retried job) can only ever make one legal transition.
/// </summary>
/// <remarks>
/// Terminal states: <c>superseded</c>, <c>applied</c>, <c>apply_failed</c>, <c>abandoned</c>. A failed apply is not
/// retried on this run: Ensemble plans the merged commit as a new run and asks for approval there (DESIGN.md).
/// </remarks>
public static class RunStateMachine
{
    private static readonly RunStatus[] AllStatuses = Enum.GetValues<RunStatus>();

    /// <summary>The status an event leads to whenever it is allowed; it depends on the event only, never on the source.</summary>
    public static RunStatus TargetOf(RunEvent e) => e switch
    {
        RunEvent.PlanStarted => RunStatus.Planning,
        RunEvent.PlanFinished f => f.HasChanges ? RunStatus.AwaitingApproval : RunStatus.NoChanges,
        RunEvent.PlanFailed => RunStatus.Failed,
        RunEvent.WorkerLost => RunStatus.Queued,
        RunEvent.Approve => RunStatus.Approved,
        RunEvent.Replan => RunStatus.Queued,
        RunEvent.Supersede => RunStatus.Superseded,
        RunEvent.Close => RunStatus.Abandoned,
        RunEvent.ApplyStarted => RunStatus.Applying,
        RunEvent.ApplyFinished a => a.Success ? RunStatus.Applied : RunStatus.ApplyFailed,
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, "Unknown run event."),
    };

    /// <summary>
    /// The statuses from which <paramref name="e"/> is allowed, for a compare-and-set <c>WHERE status IN (…)</c>.
    /// For <see cref="RunEvent.Approve"/> the update must also check the run's fingerprint and head
    /// (<c>AND fingerprint = @fp</c>), as <see cref="Transition"/> does.
    /// </summary>
    public static IReadOnlyCollection<RunStatus> SourcesOf(RunEvent e) =>
        AllStatuses.Where(s => ByStatus(s, e) is null).ToArray();

    /// <summary>Decides one event against one run: the target status, or why not.</summary>
    public static TransitionResult Transition(RunSnapshot run, RunEvent e)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(e);
        if (ByStatus(run.Status, e) is { } refusal)
        {
            return new TransitionResult.Refused(refusal);
        }

        if (e is RunEvent.Approve approve)
        {
            if (!string.Equals(approve.HeadSha, run.HeadSha, StringComparison.OrdinalIgnoreCase))
            {
                return new TransitionResult.Refused(
                    $"this approval is for commit {Short(approve.HeadSha)} but the plan is for commit {Short(run.HeadSha)}: " +
                    "a click on an older commit's check run approves nothing");
            }

            if (!string.Equals(approve.Fingerprint, run.Fingerprint, StringComparison.Ordinal))
            {
                return new TransitionResult.Refused(
                    "the plan changed after it was shown (it was planned again): review the current plan and approve that one");
            }
        }

        return new TransitionResult.Allowed(TargetOf(e));
    }

    /// <summary>Null when the status allows the event; otherwise the reason it does not.</summary>
    private static string? ByStatus(RunStatus s, RunEvent e) => e switch
    {
        RunEvent.PlanStarted => s switch
        {
            RunStatus.Queued or RunStatus.Planning => null,
            _ => NotPending(s),
        },
        RunEvent.PlanFinished or RunEvent.PlanFailed or RunEvent.WorkerLost => s switch
        {
            RunStatus.Planning => null,
            RunStatus.Queued => "the plan has not started yet",
            _ => NotPending(s),
        },
        RunEvent.Approve => s switch
        {
            RunStatus.AwaitingApproval => null,
            RunStatus.Queued or RunStatus.Planning => "the plan is still running: approve it once it is shown",
            RunStatus.NoChanges => "this plan has no changes, so there is nothing to approve",
            RunStatus.Failed => "a failed plan cannot be approved: fix it and /ensemble replan",
            RunStatus.Approved => "this plan is already approved",
            _ => Finished(s),
        },
        RunEvent.Replan => s switch
        {
            RunStatus.NoChanges or RunStatus.AwaitingApproval or RunStatus.Failed or RunStatus.Approved => null,
            RunStatus.Queued => "a plan is already queued for this project",
            RunStatus.Planning => "the plan is still running: a new plan would start from the same commit",
            _ => Finished(s),
        },
        RunEvent.Supersede => s switch
        {
            RunStatus.Queued or RunStatus.Planning or RunStatus.NoChanges or RunStatus.AwaitingApproval
                or RunStatus.Failed or RunStatus.Approved => null,
            _ => Finished(s),
        },
        RunEvent.Close { Merged: false } => s switch
        {
            RunStatus.Queued or RunStatus.Planning or RunStatus.NoChanges or RunStatus.AwaitingApproval
                or RunStatus.Failed or RunStatus.Approved => null,
            _ => Finished(s),
        },
        // Merged: an approved plan goes on to apply and a plan without changes is simply done; the rest were merged
        // without an approved plan and will never be applied from this run.
        RunEvent.Close { Merged: true } => s switch
        {
            RunStatus.Queued or RunStatus.Planning or RunStatus.AwaitingApproval or RunStatus.Failed => null,
            RunStatus.Approved => "an approved plan is applied after the merge, not abandoned",
            RunStatus.NoChanges => "a plan with no changes has nothing to apply",
            _ => Finished(s),
        },
        RunEvent.ApplyStarted => s switch
        {
            RunStatus.Approved => null,
            RunStatus.Applying => "the apply already started: a retried job never applies twice",
            RunStatus.Queued or RunStatus.Planning => "the plan is still running",
            RunStatus.NoChanges => "a plan with no changes has nothing to apply",
            RunStatus.AwaitingApproval => "this plan was never approved",
            RunStatus.Failed => "a failed plan cannot be applied",
            _ => Finished(s),
        },
        RunEvent.ApplyFinished => s switch
        {
            RunStatus.Applying => null,
            _ => "no apply is running for this plan",
        },
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, "Unknown run event."),
    };

    private static string NotPending(RunStatus s) => s switch
    {
        RunStatus.NoChanges or RunStatus.AwaitingApproval or RunStatus.Failed or RunStatus.Approved =>
            "the plan already finished",
        _ => Finished(s),
    };

    /// <summary>Reasons for the terminal and post-merge statuses, the same whatever was attempted.</summary>
    private static string Finished(RunStatus s) => s switch
    {
        RunStatus.Superseded => "a newer commit superseded this plan",
        RunStatus.Abandoned => "the pull request was closed, so this plan will never be applied",
        RunStatus.Applying => "the pull request is merged and this plan is being applied",
        RunStatus.Applied => "the pull request is merged and this plan was applied",
        RunStatus.ApplyFailed => "the pull request is merged and applying this plan failed: see its check run",
        _ => $"not possible while the run is {s.ToDb()}",
    };

    private static string Short(string sha) => sha.Length > 7 ? sha[..7] : sha;
}
