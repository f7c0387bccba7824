using Ensemble.Jobs.Core;
using Ensemble.Jobs.Jobs;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;
using Hangfire;

namespace Ensemble.Tests.EndToEnd;

/// <summary>
/// The aggregate check run while a pull request's plans finish one by one: interim views are held back (one catch-up
/// scheduled), the final view goes out the moment the last plan ends. Real PostgreSQL state, WireMock GitHub.
/// </summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class AggregateEconomyTests(PostgresFixture postgres, S3Fixture s3) : IClassFixture<PostgresFixture>, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private readonly TimeSpan _interval = PlanJob.ProgressInterval;
    private EnsembleTestApp _app = null!;

    public async Task InitializeAsync()
    {
        // Long enough that the steps below all fall inside one interval on a slow machine.
        PlanJob.ProgressInterval = TimeSpan.FromMinutes(2);
        _app = await EnsembleTestApp.StartAsync(await postgres.CreateDatabaseAsync(), s3.ServiceUrl, s3.Bucket);
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        PlanJob.ProgressInterval = _interval;
    }

    [Fact]
    public async Task PlansFinishingOneByOne_InterimViewsHeldBackWithOneCatchUp_FinalViewSentAtOnce()
    {
        var state = _app.Service<IStateStore>();
        var publisher = _app.Service<AggregatePublisher>();
        var repo = new RepoRef(EnsembleTestApp.InstallationId, "octo-org", "infra");
        var now = DateTimeOffset.UtcNow;
        var head = await state.UpsertHeadAsync(repo, 7, new string('a', 40), new string('b', 40), "main", "alice", now);
        await state.SetHeadStatusAsync(head.Id, HeadStatus.Discovered, null, now);
        var runs = new List<ProjectRun>();
        foreach (var project in new[] { "envs/a", "envs/b", "envs/c" })
        {
            runs.Add(await state.AddRunAsync(head.Id, project, destroy: false, head.HeadSha, "changed", now));
        }

        await publisher.PublishAsync(head.Id, CancellationToken.None);
        var aggregate = _app.GitHub.Latest(AggregateStatus.CheckName, head.HeadSha)!;
        Assert.Equal("Planning: 0 of 3 projects done", aggregate.Title);
        var shown = _app.GitHub.RequestCount;

        // Two plans finish: the aggregate is still interim, so nothing is sent and one catch-up is scheduled.
        foreach (var run in runs.Take(2))
        {
            await FinishAsync(state, run);
            await publisher.PublishAsync(head.Id, CancellationToken.None);
        }

        Assert.Equal(shown, _app.GitHub.RequestCount);
        var catchUps = _app.Service<JobStorage>().GetMonitoringApi().ScheduledJobs(0, 50)
            .Count(j => j.Value.Job?.Type == typeof(AggregatePublisher));
        Assert.Equal(1, catchUps);

        // The last one: the final view is sent now, not at the catch-up two minutes later.
        await FinishAsync(state, runs[2]);
        await publisher.PublishAsync(head.Id, CancellationToken.None);
        aggregate = _app.GitHub.Latest(AggregateStatus.CheckName, head.HeadSha)!;
        Assert.Equal("completed", aggregate.Status);
        Assert.Equal("success", aggregate.Conclusion);
        Assert.Equal("All 3 projects ready", aggregate.Title);
    }

    private static async Task FinishAsync(IStateStore state, ProjectRun run) =>
        Assert.NotNull(await state.TransitionRunAsync(run.Id, [RunStatus.Queued],
            new RunUpdate(RunStatus.NoChanges, DateTimeOffset.UtcNow) { SetFinished = true, Summary = "no changes" }));
}
