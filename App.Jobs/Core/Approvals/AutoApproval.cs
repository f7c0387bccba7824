using System.Globalization;

namespace Ensemble.Jobs.Core.Approvals;

/// <summary>
/// One recorded approval of a (PR, project) plan: who, when, which plan fingerprint, which head SHA.
/// For an automatic approval, <see cref="By"/> is the person whose manual approval it copied (through any chain
/// of automatic approvals) and <see cref="ManualAt"/> when they gave it, so every message keeps a human's name.
/// </summary>
public sealed record ApprovalRecord
{
    public ApprovalRecord(Approver by, DateTimeOffset at, ApprovalKind kind, string fingerprint, string headSha, DateTimeOffset? manualAt = null)
    {
        ArgumentNullException.ThrowIfNull(by);
        ArgumentException.ThrowIfNullOrWhiteSpace(fingerprint);
        ArgumentException.ThrowIfNullOrWhiteSpace(headSha);
        if (kind == ApprovalKind.Automatic && manualAt is null)
        {
            throw new ArgumentException("An automatic approval must say when the manual approval it copied was given.", nameof(manualAt));
        }

        By = by;
        At = at;
        Kind = kind;
        Fingerprint = fingerprint;
        HeadSha = headSha;
        ManualAt = kind == ApprovalKind.Manual ? at : manualAt!.Value;
    }

    public Approver By { get; }
    /// <summary>When this approval was recorded.</summary>
    public DateTimeOffset At { get; }
    public ApprovalKind Kind { get; }
    public string Fingerprint { get; }
    public string HeadSha { get; }
    /// <summary>When <see cref="By"/> approved by hand: <see cref="At"/> for a manual approval, the copied one's time otherwise.</summary>
    public DateTimeOffset ManualAt { get; }
}

/// <summary>Whether a new plan is approved without a click.</summary>
public abstract record AutoApprovalDecision
{
    private AutoApprovalDecision() { }

    /// <summary>Approve on behalf of <paramref name="OnBehalfOf"/>, whose manual approval at <paramref name="ManualAt"/> is copied.</summary>
    /// <param name="Text">For the check run and the approval history, e.g. "Auto-approved: identical to the plan approved by @alice at 2026-11-23T17:21:39Z".</param>
    public sealed record Approve(string Text, Approver OnBehalfOf, DateTimeOffset ManualAt) : AutoApprovalDecision
    {
        /// <summary>The event for the state machine; <paramref name="at"/> is now, <paramref name="headSha"/> the new plan's head.</summary>
        public RunEvent.Approve ToEvent(DateTimeOffset at, string fingerprint, string headSha) =>
            new(OnBehalfOf, at, ApprovalKind.Automatic, fingerprint, headSha);

        /// <summary>The record to store; it chains to the original manual approval.</summary>
        public ApprovalRecord ToRecord(DateTimeOffset at, string fingerprint, string headSha) =>
            new(OnBehalfOf, at, ApprovalKind.Automatic, fingerprint, headSha, ManualAt);
    }

    public sealed record NotApproved(string Reason) : AutoApprovalDecision;
}

/// <summary>
/// DESIGN.md: "A new plan whose fingerprint equals the last approved one for that project in that PR is approved
/// automatically." Pure. Call it for a plan with changes, with the last approval (manual or automatic) of that
/// project in that PR, whatever head it was on.
/// </summary>
public static class AutoApproval
{
    public static AutoApprovalDecision Decide(string newFingerprint, ApprovalRecord? lastApprovalForProjectInPr)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(newFingerprint);
        if (lastApprovalForProjectInPr is not { } last)
        {
            return new AutoApprovalDecision.NotApproved("no plan of this project was approved in this pull request yet");
        }

        // Only the last approval counts: approving a different plan later withdraws consent to the earlier one.
        if (!string.Equals(newFingerprint, last.Fingerprint, StringComparison.Ordinal))
        {
            return new AutoApprovalDecision.NotApproved(
                $"the plan differs from the one approved by {last.By} at {Format(last.ManualAt)}");
        }

        return new AutoApprovalDecision.Approve(
            $"Auto-approved: identical to the plan approved by {last.By} at {Format(last.ManualAt)}", last.By, last.ManualAt);
    }

    /// <summary>UTC, to the second, ISO 8601: the same text whatever the server's culture or zone.</summary>
    public static string Format(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
