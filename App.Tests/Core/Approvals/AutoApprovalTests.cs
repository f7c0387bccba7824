using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.State;

namespace Ensemble.Tests.Core.Approvals;

public sealed class AutoApprovalTests
{
    private static readonly DateTimeOffset AliceApprovedAt = new(2026, 11, 20, 9, 30, 15, TimeSpan.Zero);
    private static readonly ApprovalRecord ByAlice = new(new Approver("alice"), AliceApprovedAt, ApprovalKind.Manual, "fp-1", "sha-1");

    [Fact]
    public void Decide_NoEarlierApproval_NotApproved()
    {
        var decision = AutoApproval.Decide("fp-1", null);

        var no = Assert.IsType<AutoApprovalDecision.NotApproved>(decision);
        Assert.Equal("no plan of this project was approved in this pull request yet", no.Reason);
    }

    [Fact]
    public void Decide_SameFingerprintAsManualApproval_ApprovesNamingTheApprover()
    {
        var decision = AutoApproval.Decide("fp-1", ByAlice);

        var yes = Assert.IsType<AutoApprovalDecision.Approve>(decision);
        Assert.Equal("Auto-approved: identical to the plan approved by @alice at 2026-11-20T09:30:15Z", yes.Text);
        Assert.Equal(new Approver("alice"), yes.OnBehalfOf);
    }

    [Fact]
    public void Decide_DifferentFingerprint_NotApprovedSayingWhy()
    {
        var decision = AutoApproval.Decide("fp-2", ByAlice);

        var no = Assert.IsType<AutoApprovalDecision.NotApproved>(decision);
        Assert.Equal("the plan differs from the one approved by @alice at 2026-11-20T09:30:15Z", no.Reason);
    }

    [Fact]
    public void Decide_FingerprintDiffersOnlyInCase_NotApproved()
    {
        Assert.IsType<AutoApprovalDecision.NotApproved>(AutoApproval.Decide("FP-1", ByAlice));
    }

    [Fact]
    public void Decide_ChainOfAutomaticApprovals_KeepsTheOriginalApproverAndTime()
    {
        var first = (AutoApprovalDecision.Approve)AutoApproval.Decide("fp-1", ByAlice);
        var copied = first.ToRecord(AliceApprovedAt.AddHours(1), "fp-1", "sha-2");

        var decision = AutoApproval.Decide("fp-1", copied);

        var yes = Assert.IsType<AutoApprovalDecision.Approve>(decision);
        Assert.Equal("Auto-approved: identical to the plan approved by @alice at 2026-11-20T09:30:15Z", yes.Text);
        Assert.Equal(ApprovalKind.Automatic, copied.Kind);
        Assert.Equal(AliceApprovedAt.AddHours(1), copied.At);
        Assert.Equal(AliceApprovedAt, copied.ManualAt);
    }

    [Fact]
    public void Decide_ApprovalTimeWithOffset_ShownInUtc()
    {
        var record = new ApprovalRecord(new Approver("bob"), new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)), ApprovalKind.Manual, "fp", "sha");

        var yes = Assert.IsType<AutoApprovalDecision.Approve>(AutoApproval.Decide("fp", record));

        Assert.EndsWith("@bob at 2026-01-02T01:04:05Z", yes.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Approve_ToEvent_IsAnAutomaticApprovalTheMachineAccepts()
    {
        var yes = (AutoApprovalDecision.Approve)AutoApproval.Decide("fp-1", ByAlice);

        var e = yes.ToEvent(AliceApprovedAt.AddDays(1), "fp-1", "sha-2");
        var result = RunStateMachine.Transition(new RunSnapshot(RunStatus.AwaitingApproval, "fp-1", "sha-2"), e);

        Assert.Equal(ApprovalKind.Automatic, e.Kind);
        Assert.Equal("alice", e.By.Login);
        Assert.Equal(new TransitionResult.Allowed(RunStatus.Approved), result);
    }

    [Fact]
    public void ApprovalRecord_AutomaticWithoutManualTime_Throws()
    {
        Assert.Throws<ArgumentException>(() => new ApprovalRecord(new Approver("alice"), AliceApprovedAt, ApprovalKind.Automatic, "fp", "sha"));
    }

    [Fact]
    public void Decide_EmptyFingerprint_Throws()
    {
        Assert.ThrowsAny<ArgumentException>(() => AutoApproval.Decide("", ByAlice));
    }
}
