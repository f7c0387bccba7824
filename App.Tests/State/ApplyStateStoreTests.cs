using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;

namespace Ensemble.Tests.State;

/// <summary>
/// The apply half of the state store on both dialects: merges recorded once, a run taken for apply at most once
/// however many workers race, and the outcome recorded with the run's final status.
/// </summary>
public abstract class ApplyStateStoreContract : StateStoreContractBase
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly RepoRef Repo = new(1, "octo-org", "infra");
    private static readonly IReadOnlyCollection<RunStatus> StartSources = RunStateMachine.SourcesOf(new RunEvent.ApplyStarted());

    /// <summary>A run approved for plan file hash "h" on a merged head.</summary>
    private async Task<(ProjectRun Run, MergeRecord Merge)> ApprovedAndMergedAsync()
    {
        var head = await Store.UpsertHeadAsync(Repo, 3, new string('a', 40), new string('b', 40), "main", "alice", T0);
        var run = await Store.AddRunAsync(head.Id, "envs/dev", false, head.HeadSha, "changed", T0);
        await Store.TransitionRunAsync(run.Id, [RunStatus.Queued], new RunUpdate(RunStatus.Planning, T0));
        await Store.TransitionRunAsync(run.Id, [RunStatus.Planning], new RunUpdate(RunStatus.AwaitingApproval, T0) { Fingerprint = "fp", PlanSha256 = "h" });
        Assert.True(await Store.ApproveRunAsync(run.Id, "fp", new Approval("bob", false, T0), T0));
        var merge = await Store.RecordMergeAsync(head.Id, new string('c', 40), T0);
        return (run, merge);
    }

    [Fact]
    public async Task RecordMerge_Twice_FirstMergeCommitKept()
    {
        var (run, merge) = await ApprovedAndMergedAsync();

        var again = await Store.RecordMergeAsync(run.HeadId, new string('d', 40), T0.AddMinutes(1));

        Assert.Equal(merge.Id, again.Id);
        Assert.Equal(new string('c', 40), again.MergeSha);
        await Store.SetMergeCommentAsync(merge.Id, 77);
        Assert.Equal(77, (await Store.GetMergeByHeadAsync(run.HeadId))!.CommentId);
    }

    [Fact]
    public async Task StartApply_ManyWorkersAtOnce_ExactlyOneTakesTheRun()
    {
        var (run, merge) = await ApprovedAndMergedAsync();

        var taken = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Store.StartApplyAsync(run.Id, merge.Id, $"job-{i}", StartSources, T0)));

        Assert.Single(taken, t => t);
        var winner = $"job-{Array.IndexOf(taken, true)}";
        Assert.Equal(RunStatus.Applying, (await Store.GetRunAsync(run.Id))!.Status);
        var apply = (await Store.GetApplyAsync(run.Id))!;
        Assert.Equal(winner, apply.JobId);
        Assert.Null(apply.Outcome);
    }

    [Fact]
    public async Task StartApply_AfterTheApplyFinished_Refused()
    {
        var (run, merge) = await ApprovedAndMergedAsync();
        Assert.True(await Store.StartApplyAsync(run.Id, merge.Id, "job-1", StartSources, T0));
        Assert.True(await Store.FinishApplyAsync(run.Id, RunStatus.Applied, [RunStatus.Applying], ApplyOutcome.Applied, "Applied.", T0.AddMinutes(1)));

        Assert.False(await Store.StartApplyAsync(run.Id, merge.Id, "job-2", StartSources, T0.AddMinutes(2)));
        Assert.Equal("job-1", (await Store.GetApplyAsync(run.Id))!.JobId);
    }

    [Fact]
    public async Task StartApply_RunNotApproved_Refused()
    {
        var head = await Store.UpsertHeadAsync(Repo, 4, new string('e', 40), new string('b', 40), "main", "alice", T0);
        var run = await Store.AddRunAsync(head.Id, "envs/dev", false, head.HeadSha, "changed", T0);
        var merge = await Store.RecordMergeAsync(head.Id, new string('c', 40), T0);

        Assert.False(await Store.StartApplyAsync(run.Id, merge.Id, "job-1", StartSources, T0));
        Assert.Null(await Store.GetApplyAsync(run.Id));
        Assert.Equal(RunStatus.Queued, (await Store.GetRunAsync(run.Id))!.Status);
    }

    [Fact]
    public async Task FinishApply_Refused_RunFailedWithReasonAndOutcomeListed()
    {
        var (run, merge) = await ApprovedAndMergedAsync();
        await Store.StartApplyAsync(run.Id, merge.Id, "job-1", StartSources, T0);
        await Store.SetApplyCheckRunAsync(run.Id, 555);

        Assert.True(await Store.FinishApplyAsync(run.Id, RunStatus.ApplyFailed, [RunStatus.Applying], ApplyOutcome.Refused, "Apply refused: hash.", T0.AddMinutes(1)));
        Assert.False(await Store.FinishApplyAsync(run.Id, RunStatus.Applied, [RunStatus.Applying], ApplyOutcome.Applied, "late", T0.AddMinutes(2)));

        var after = (await Store.GetRunAsync(run.Id))!;
        Assert.Equal(RunStatus.ApplyFailed, after.Status);
        Assert.Equal("Apply refused: hash.", after.Error);
        var listed = Assert.Single(await Store.ListAppliesAsync(merge.Id));
        Assert.Equal((ApplyOutcome?)ApplyOutcome.Refused, listed.Outcome);
        Assert.Equal(555, listed.MergeCheckRunId);
        Assert.Equal(T0.AddMinutes(1), listed.FinishedAt);
    }
}

[Trait("Category", Categories.Integration)]
public sealed class PostgresApplyStateStoreTests(PostgresFixture postgres) : ApplyStateStoreContract, IClassFixture<PostgresFixture>
{
    protected override async Task<SqlStateStore> CreateAsync() => SqlStateStore.ForPostgres(await postgres.CreateDatabaseAsync());
}

public sealed class SqliteApplyStateStoreTests : ApplyStateStoreContract, IDisposable
{
    private readonly SqliteStateFile _file = new();

    protected override Task<SqlStateStore> CreateAsync() => Task.FromResult(_file.Open());

    public void Dispose() => _file.Dispose();
}
