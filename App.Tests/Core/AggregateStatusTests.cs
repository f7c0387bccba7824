using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;

namespace Ensemble.Tests.Core;

public sealed class AggregateStatusTests
{
    private static ProjectStatusView P(string path, RunStatus status) => new(path, status, "+1 ~0 ±0 −0", false);

    public static TheoryData<RunStatus[], CheckStatus, CheckConclusion?> Cases => new()
    {
        { [RunStatus.Queued, RunStatus.NoChanges], CheckStatus.InProgress, null },
        { [RunStatus.Planning, RunStatus.Failed], CheckStatus.InProgress, null },
        { [RunStatus.Failed, RunStatus.AwaitingApproval], CheckStatus.Completed, CheckConclusion.Failure },
        { [RunStatus.AwaitingApproval, RunStatus.NoChanges], CheckStatus.Completed, CheckConclusion.ActionRequired },
        { [RunStatus.Approved, RunStatus.AwaitingApproval], CheckStatus.Completed, CheckConclusion.ActionRequired },
        { [RunStatus.Approved, RunStatus.NoChanges], CheckStatus.Completed, CheckConclusion.Success },
        { [RunStatus.NoChanges], CheckStatus.Completed, CheckConclusion.Success },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Compute_ProjectStates_GateAsDesigned(RunStatus[] states, CheckStatus status, CheckConclusion? conclusion)
    {
        var projects = states.Select((s, i) => P($"p{i}", s)).ToList();

        var result = AggregateStatus.Compute(HeadStatus.Discovered, projects, null);

        Assert.Equal(status, result.Status);
        Assert.Equal(conclusion, result.Conclusion);
    }

    [Fact]
    public void Compute_NoProjects_SucceedsSayingNothingChanged()
    {
        var result = AggregateStatus.Compute(HeadStatus.Discovered, [], null);

        Assert.Equal(CheckConclusion.Success, result.Conclusion);
        Assert.Equal("No Terraform projects changed", result.Output.Title);
    }

    [Fact]
    public void Compute_WhileDiscovering_InProgressWithoutConclusion()
    {
        var result = AggregateStatus.Compute(HeadStatus.Discovering, [], null);

        Assert.Equal(CheckStatus.InProgress, result.Status);
        Assert.Null(result.Conclusion);
    }

    [Fact]
    public void Compute_DiscoveryFailed_FailsWithTheReasonAndWhatToDo()
    {
        var result = AggregateStatus.Compute(HeadStatus.DiscoveryFailed, [], "fatal: bad object abc");

        Assert.Equal(CheckConclusion.Failure, result.Conclusion);
        Assert.Contains("fatal: bad object abc", result.Output.Summary, StringComparison.Ordinal);
        Assert.Contains("/ensemble replan", result.Output.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Compute_AwaitingApproval_ListsEveryProjectAndProblems()
    {
        var result = AggregateStatus.Compute(HeadStatus.Discovered,
            [P("envs/dev", RunStatus.AwaitingApproval), P("envs/prod", RunStatus.NoChanges)], "- module dir missing: modules/x");

        Assert.Contains("`envs/dev`", result.Output.Summary, StringComparison.Ordinal);
        Assert.Contains("`envs/prod`", result.Output.Summary, StringComparison.Ordinal);
        Assert.Contains("module dir missing", result.Output.Summary, StringComparison.Ordinal);
        Assert.Equal("1 project awaiting approval", result.Output.Title);
    }

    [Theory]
    [InlineData(new[] { RunStatus.Queued }, HeadStatus.Discovered)]
    [InlineData(new[] { RunStatus.Planning, RunStatus.AwaitingApproval }, HeadStatus.Discovered)]
    [InlineData(new RunStatus[0], HeadStatus.Discovering)]
    public void Compute_AnythingPending_NeverNeutralNorSuccess(RunStatus[] states, HeadStatus head)
    {
        var result = AggregateStatus.Compute(head, states.Select((s, i) => P($"p{i}", s)).ToList(), null);

        Assert.NotEqual(CheckStatus.Completed, result.Status);
        Assert.Null(result.Conclusion);
    }

    [Fact]
    public void Compute_AfterMergeAppliesUnderWay_PassingInterimApplyingView()
    {
        var result = AggregateStatus.Compute(HeadStatus.Discovered,
            [P("a", RunStatus.Applied), P("b", RunStatus.Applying), P("c", RunStatus.Approved), P("d", RunStatus.NoChanges)], null);

        Assert.Equal(CheckConclusion.Success, result.Conclusion);
        Assert.Equal("Applying: 1 of 3 projects applied", result.Output.Title);
        Assert.True(result.IsInterim);
        Assert.Contains("✅ applied", result.Output.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Compute_AfterMergeOneApplyFailed_FailureAtOnceEvenWhileOthersRun()
    {
        var result = AggregateStatus.Compute(HeadStatus.Discovered,
            [P("a", RunStatus.ApplyFailed), P("b", RunStatus.Applying), P("c", RunStatus.Applied)], null);

        Assert.Equal(CheckConclusion.Failure, result.Conclusion);
        Assert.Equal("1 apply failed", result.Output.Title);
        Assert.Contains("1 of 3 projects applied, 1 failed, 1 still applying", result.Output.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Compute_AfterMergeAllApplied_FinalSuccess()
    {
        var result = AggregateStatus.Compute(HeadStatus.Discovered, [P("a", RunStatus.Applied), P("b", RunStatus.Applied)], null);

        Assert.Equal(CheckConclusion.Success, result.Conclusion);
        Assert.Equal("All 2 projects applied", result.Output.Title);
        Assert.False(result.IsInterim);
    }

    [Fact]
    public void Compute_BeforeMergeAllApproved_FinalNotInterim()
    {
        var result = AggregateStatus.Compute(HeadStatus.Discovered, [P("a", RunStatus.Approved)], null);

        Assert.False(result.IsInterim);
        Assert.True(AggregateStatus.Compute(HeadStatus.Discovered, [P("a", RunStatus.Planning)], null).IsInterim);
    }
}
