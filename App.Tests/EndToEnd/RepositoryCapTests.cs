using Ensemble.Jobs.Core;
using Ensemble.Jobs.Jobs;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;
using Hangfire;

namespace Ensemble.Tests.EndToEnd;

/// <summary><c>Ensemble:MaxRunsPerRepository</c>: runs of one repository beyond the cap wait, visibly, without a worker.</summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class RepositoryCapTests(PostgresFixture postgres, S3Fixture s3) : IClassFixture<PostgresFixture>, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private readonly TimeSpan _retryDelay = RepositoryRunSlots.RetryDelay;
    private EnsembleTestApp _app = null!;

    public async Task InitializeAsync()
    {
        RepositoryRunSlots.RetryDelay = TimeSpan.FromSeconds(1);
        _app = await EnsembleTestApp.StartAsync(await postgres.CreateDatabaseAsync(), s3.ServiceUrl, s3.Bucket, new Dictionary<string, string?>
        {
            ["Ensemble:MaxRunsPerRepository"] = "1",
        });
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        RepositoryRunSlots.RetryDelay = _retryDelay;
    }

    [Fact]
    public async Task CapOne_TwoSlowProjects_RunOneAfterTheOther_TheWaitingOneSaysWhy()
    {
        // Four idle workers and two plans of three seconds each: without the cap they would overlap.
        var slow = "resource \"sim_slow\" \"wait\" {\n  seconds = 3\n}\n";
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app, devExtra: slow, prodExtra: slow);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Scenarios.Patience, "both plans to complete");

        var state = _app.Service<IStateStore>();
        var headId = (await state.ListHeadsAsync(new RepoRef(EnsembleTestApp.InstallationId, repo.Owner, repo.Name), 7)).Single().Id;
        var runs = (await state.ListRunsAsync(headId)).OrderBy(r => r.StartedAt).ToList();
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => Assert.Equal(RunStatus.AwaitingApproval, r.Status));
        Assert.True(runs[0].FinishedAt <= runs[1].StartedAt,
            $"{runs[0].ProjectPath} ran {runs[0].StartedAt:HH:mm:ss.fff}–{runs[0].FinishedAt:HH:mm:ss.fff}, " +
            $"{runs[1].ProjectPath} started {runs[1].StartedAt:HH:mm:ss.fff}: they overlapped");

        // The second run's check run said what it waited for, then planned normally.
        var second = _app.GitHub.Latest(AggregateStatus.ProjectCheckName(runs[1].ProjectPath), head)!;
        Assert.Contains(second.History, h => h.Status == "queued"
            && h.Title == "Waiting: 1 run of this repository already running (limit 1)");
        Assert.Equal("action_required", second.Conclusion);
        Assert.Equal(1, runs[1].Attempts);

        // The waiting job gave its worker back and came back as the same job: one plan job per project, not copies.
        var succeeded = _app.Service<JobStorage>().GetMonitoringApi().SucceededJobs(0, 200);
        Assert.Equal(2, succeeded.Count(j => j.Value.Job?.Type == typeof(PlanJob)));
    }
}
