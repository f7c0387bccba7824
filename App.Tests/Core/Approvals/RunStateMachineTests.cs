using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.State;

namespace Ensemble.Tests.Core.Approvals;

public sealed class RunStateMachineTests
{
    private const string Head = "0123456789abcdef0123456789abcdef01234567";
    private const string Fp = "fp-current";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 17, 0, 0, TimeSpan.Zero);

    private static RunEvent.Approve ApproveCurrent(ApprovalKind kind = ApprovalKind.Manual) => new(new Approver("alice"), Now, kind, Fp, Head);

    private static readonly Dictionary<string, RunEvent> Events = new()
    {
        ["PlanStarted"] = new RunEvent.PlanStarted(),
        ["PlanFinished(changes)"] = new RunEvent.PlanFinished(true, "fp-new"),
        ["PlanFinished(none)"] = new RunEvent.PlanFinished(false, "fp-new"),
        ["PlanFailed"] = new RunEvent.PlanFailed("init"),
        ["WorkerLost"] = new RunEvent.WorkerLost(),
        ["Approve"] = ApproveCurrent(),
        ["Approve(auto)"] = ApproveCurrent(ApprovalKind.Automatic),
        ["Replan"] = new RunEvent.Replan(),
        ["Supersede"] = new RunEvent.Supersede(),
        ["Close(unmerged)"] = new RunEvent.Close(false),
        ["Close(merged)"] = new RunEvent.Close(true),
        ["ApplyStarted"] = new RunEvent.ApplyStarted(),
        ["ApplyFinished(ok)"] = new RunEvent.ApplyFinished(true),
        ["ApplyFinished(fail)"] = new RunEvent.ApplyFinished(false),
    };

    // Column order of the table; "-" means refused.
    private static readonly RunStatus[] Columns =
    [
        RunStatus.Queued, RunStatus.Planning, RunStatus.NoChanges, RunStatus.AwaitingApproval, RunStatus.Failed, RunStatus.Approved,
        RunStatus.Superseded, RunStatus.Applying, RunStatus.Applied, RunStatus.ApplyFailed, RunStatus.Abandoned,
    ];

    private static readonly Dictionary<string, RunStatus> Codes = new()
    {
        ["Q"] = RunStatus.Queued, ["P"] = RunStatus.Planning, ["NC"] = RunStatus.NoChanges, ["AA"] = RunStatus.AwaitingApproval,
        ["F"] = RunStatus.Failed, ["Ap"] = RunStatus.Approved, ["S"] = RunStatus.Superseded, ["Ing"] = RunStatus.Applying,
        ["Ied"] = RunStatus.Applied, ["AF"] = RunStatus.ApplyFailed, ["Ab"] = RunStatus.Abandoned,
    };

    /// <summary>Every status × every event: the target, or "-" for a refusal.</summary>
    private static readonly (string Event, string Row)[] Table =
    [
        //                        Q    P    NC   AA   F    Ap   S    Ing  Ied  AF   Ab
        ("PlanStarted",          "P    P    -    -    -    -    -    -    -    -    -"),
        ("PlanFinished(changes)", "-    AA   -    -    -    -    -    -    -    -    -"),
        ("PlanFinished(none)",   "-    NC   -    -    -    -    -    -    -    -    -"),
        ("PlanFailed",           "-    F    -    -    -    -    -    -    -    -    -"),
        ("WorkerLost",           "-    Q    -    -    -    -    -    -    -    -    -"),
        ("Approve",              "-    -    -    Ap   -    -    -    -    -    -    -"),
        ("Approve(auto)",        "-    -    -    Ap   -    -    -    -    -    -    -"),
        ("Replan",               "-    -    Q    Q    Q    Q    -    -    -    -    -"),
        ("Supersede",            "S    S    S    S    S    S    -    -    -    -    -"),
        ("Close(unmerged)",      "Ab   Ab   Ab   Ab   Ab   Ab   -    -    -    -    -"),
        ("Close(merged)",        "Ab   Ab   -    Ab   Ab   -    -    -    -    -    -"),
        ("ApplyStarted",         "-    -    -    -    -    Ing  -    -    -    -    -"),
        ("ApplyFinished(ok)",    "-    -    -    -    -    -    -    Ied  -    -    -"),
        ("ApplyFinished(fail)",  "-    -    -    -    -    -    -    AF   -    -    -"),
    ];

    public static TheoryData<string, RunStatus, string> AllCells()
    {
        var data = new TheoryData<string, RunStatus, string>();
        foreach (var (name, row) in Table)
        {
            var cells = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 0; i < Columns.Length; i++)
            {
                data.Add(name, Columns[i], cells[i]);
            }
        }

        return data;
    }

    [Fact]
    public void Table_CoversEveryEventAndStatus()
    {
        Assert.Equal(Events.Keys.Order(), Table.Select(t => t.Event).Order());
        Assert.Equal(Enum.GetValues<RunStatus>().Order(), Columns.Order());
        Assert.All(Table, t => Assert.Equal(Columns.Length, t.Row.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length));
    }

    [Theory]
    [MemberData(nameof(AllCells))]
    public void Transition_EveryStatusAndEvent_MatchesTheTable(string eventName, RunStatus from, string expected)
    {
        var result = RunStateMachine.Transition(new RunSnapshot(from, Fp, Head), Events[eventName]);

        if (expected == "-")
        {
            var refused = Assert.IsType<TransitionResult.Refused>(result);
            Assert.False(string.IsNullOrWhiteSpace(refused.Reason));
        }
        else
        {
            Assert.Equal(new TransitionResult.Allowed(Codes[expected]), result);
        }
    }

    [Theory]
    [MemberData(nameof(AllCells))]
    public void SourcesOf_EveryStatusAndEvent_AgreesWithTransition(string eventName, RunStatus from, string expected)
    {
        var e = Events[eventName];

        Assert.Equal(expected != "-", RunStateMachine.SourcesOf(e).Contains(from));
        if (expected != "-")
        {
            Assert.Equal(Codes[expected], RunStateMachine.TargetOf(e));
        }
    }

    [Fact]
    public void SourcesOf_Replan_IsTheFinishedPrePlanStates()
    {
        Assert.Equal(
            [RunStatus.NoChanges, RunStatus.AwaitingApproval, RunStatus.Failed, RunStatus.Approved],
            RunStateMachine.SourcesOf(new RunEvent.Replan()).Order());
    }

    public static TheoryData<RunStatus, RunEvent, string> Reasons => new()
    {
        { RunStatus.Approved, ApproveCurrent(), "this plan is already approved" },
        { RunStatus.Planning, ApproveCurrent(), "the plan is still running: approve it once it is shown" },
        { RunStatus.Queued, ApproveCurrent(), "the plan is still running: approve it once it is shown" },
        { RunStatus.Superseded, ApproveCurrent(), "a newer commit superseded this plan" },
        { RunStatus.Failed, ApproveCurrent(), "a failed plan cannot be approved: fix it and /ensemble replan" },
        { RunStatus.NoChanges, ApproveCurrent(), "this plan has no changes, so there is nothing to approve" },
        { RunStatus.Abandoned, ApproveCurrent(), "the pull request was closed, so this plan will never be applied" },
        { RunStatus.Planning, new RunEvent.Replan(), "the plan is still running: a new plan would start from the same commit" },
        { RunStatus.Queued, new RunEvent.Replan(), "a plan is already queued for this project" },
        { RunStatus.Superseded, new RunEvent.Replan(), "a newer commit superseded this plan" },
        { RunStatus.Applied, new RunEvent.Replan(), "the pull request is merged and this plan was applied" },
        { RunStatus.Applying, new RunEvent.ApplyStarted(), "the apply already started: a retried job never applies twice" },
        { RunStatus.AwaitingApproval, new RunEvent.ApplyStarted(), "this plan was never approved" },
        { RunStatus.Approved, new RunEvent.Close(true), "an approved plan is applied after the merge, not abandoned" },
    };

    [Theory]
    [MemberData(nameof(Reasons))]
    public void Transition_RefusedEvent_GivesAReasonAUserCanRead(RunStatus from, RunEvent e, string reason)
    {
        var result = RunStateMachine.Transition(new RunSnapshot(from, Fp, Head), e);

        Assert.Equal(new TransitionResult.Refused(reason), result);
    }

    [Fact]
    public void Transition_ApprovalOfAnOlderCommit_IsRefused()
    {
        var olderHead = "fedcba9876543210fedcba9876543210fedcba98";
        var approve = new RunEvent.Approve(new Approver("alice"), Now, ApprovalKind.Manual, Fp, olderHead);

        var result = RunStateMachine.Transition(new RunSnapshot(RunStatus.AwaitingApproval, Fp, Head), approve);

        var refused = Assert.IsType<TransitionResult.Refused>(result);
        Assert.Equal(
            "this approval is for commit fedcba9 but the plan is for commit 0123456: a click on an older commit's check run approves nothing",
            refused.Reason);
    }

    [Fact]
    public void Transition_ApprovalOfAPlanThatChanged_IsRefused()
    {
        var approve = new RunEvent.Approve(new Approver("alice"), Now, ApprovalKind.Manual, "fp-shown-earlier", Head);

        var result = RunStateMachine.Transition(new RunSnapshot(RunStatus.AwaitingApproval, Fp, Head), approve);

        var refused = Assert.IsType<TransitionResult.Refused>(result);
        Assert.Contains("the plan changed after it was shown", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Transition_ApprovalWhenTheRunHasNoFingerprint_IsRefused()
    {
        var result = RunStateMachine.Transition(new RunSnapshot(RunStatus.AwaitingApproval, null, Head), ApproveCurrent());

        Assert.IsType<TransitionResult.Refused>(result);
    }

    [Fact]
    public void Transition_ApprovalHeadInUpperCase_IsTheSameCommit()
    {
        var approve = new RunEvent.Approve(new Approver("alice"), Now, ApprovalKind.Manual, Fp, Head.ToUpperInvariant());

        var result = RunStateMachine.Transition(new RunSnapshot(RunStatus.AwaitingApproval, Fp, Head), approve);

        Assert.Equal(new TransitionResult.Allowed(RunStatus.Approved), result);
    }

    [Fact]
    public void Transition_StatusRefusalComesBeforeMismatch_SoTheUserLearnsTheRealProblem()
    {
        var stale = new RunEvent.Approve(new Approver("alice"), Now, ApprovalKind.Manual, "other", "other-head");

        var result = RunStateMachine.Transition(new RunSnapshot(RunStatus.Superseded, Fp, Head), stale);

        Assert.Equal(new TransitionResult.Refused("a newer commit superseded this plan"), result);
    }

    [Theory]
    [InlineData("", "abc")]
    [InlineData("fp", " ")]
    public void Approve_MissingFingerprintOrHead_Throws(string fingerprint, string head)
    {
        Assert.ThrowsAny<ArgumentException>(() => new RunEvent.Approve(new Approver("alice"), Now, ApprovalKind.Manual, fingerprint, head));
    }

    [Fact]
    public void PlanFinished_WithoutFingerprint_Throws()
    {
        Assert.ThrowsAny<ArgumentException>(() => new RunEvent.PlanFinished(true, ""));
    }

    [Theory]
    [InlineData("alice", "ALICE", true)]
    [InlineData("@alice", "alice", true)]
    [InlineData("alice", "alicia", false)]
    public void Approver_Is_ComparesLoginsCaseInsensitively(string login, string other, bool same)
    {
        Assert.Equal(same, new Approver(login).Is(other));
        Assert.Equal("@" + login.TrimStart('@'), new Approver(login).ToString());
    }
}
