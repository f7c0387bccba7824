using Ensemble.Tests.Infrastructure;

namespace Ensemble.Tests.EndToEnd;

/// <summary>Long plans: progress while they run, and a newer commit stopping a running plan.</summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class ProgressTests(PostgresFixture postgres, S3Fixture s3) : IClassFixture<PostgresFixture>, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private EnsembleTestApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await EnsembleTestApp.StartAsync(await postgres.CreateDatabaseAsync(), s3.ServiceUrl, s3.Bucket);

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task SlowPlan_ShowsProgress_ThenANewCommitStopsIt()
    {
        var slow = "resource \"sim_slow\" \"wait\" {\n  seconds = 90\n}\n";
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app, devExtra: slow);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head, author: "alice"));

        // Live progress: the phase, the elapsed time and terraform's latest lines, before the plan completes.
        await _app.GitHub.WaitUntilAsync(
            g => g.Latest("ensemble: envs/dev", head) is { Status: "in_progress" } run && (run.Text ?? "").Contains("Still reading", StringComparison.Ordinal),
            Scenarios.Patience, "progress with terraform's output");
        var running = _app.GitHub.Latest("ensemble: envs/dev", head)!;
        Assert.Contains("terraform plan", running.Title, StringComparison.Ordinal);
        Assert.Contains("s elapsed", running.Summary, StringComparison.Ordinal);
        Assert.Equal("in_progress", _app.GitHub.Latest("ensemble", head)!.Status);

        // A new commit supersedes the running plan: terraform is stopped and the old check run says why.
        repo.Write("envs/dev/main.tf", Scenarios.Project("dev"));
        var second = repo.Commit("drop the slow resource");
        repo.SetPullRef(7, second);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("synchronize", repo, 7, @base, second, author: "alice"));

        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble: envs/dev", head) is { Conclusion: "cancelled" }, TimeSpan.FromSeconds(45), "the old plan to stop");
        Assert.Contains("newer commit", _app.GitHub.Latest("ensemble: envs/dev", head)!.Summary, StringComparison.Ordinal);
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, second, 1), Scenarios.Patience, "the new commit's plans");
        Assert.Equal("cancelled", _app.GitHub.Latest("ensemble", head)!.Conclusion);
    }
}
