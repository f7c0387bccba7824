using System.Text.Json.Nodes;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Jobs;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;
using Hangfire;

namespace Ensemble.Tests.EndToEnd;

/// <summary>
/// Base moves, end to end: a push to the default branch re-plans the open PR's projects whose inputs it changed (their
/// check runs published again, an identical plan keeping its approval) and nothing else.
/// </summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class BaseMoveTests(PostgresFixture postgres, S3Fixture s3) : IClassFixture<PostgresFixture>, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private const int Number = 21;
    private const string A = "ensemble: envs/a";
    private const string B = "ensemble: envs/b";
    private EnsembleTestApp _app = null!;
    private TimeSpan _settleDelay;

    public async Task InitializeAsync()
    {
        // The 30 s wait for pull_request.closed is for production; here each test sends only what it means to.
        _settleDelay = BaseMoveJob.SettleDelay;
        BaseMoveJob.SettleDelay = TimeSpan.Zero;
        _app = await EnsembleTestApp.StartAsync(await postgres.CreateDatabaseAsync(), s3.ServiceUrl, s3.Bucket);
        _app.GitHub.Permissions["bob"] = "write";
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        BaseMoveJob.SettleDelay = _settleDelay;
    }

    private sealed record Pr(TestRepository Repo, string Base, string Head);

    /// <summary>main: envs/a uses modules/net, envs/b uses nothing; the PR changes both projects; both planned and approved.</summary>
    private async Task<Pr> ApprovedPullRequestAsync()
    {
        var repo = _app.CreateRepository();
        repo.Write("modules/net/main.tf", "resource \"sim_thing\" \"net\" {\n  name = \"net\"\n}\n")
            .Write("envs/a/main.tf", Scenarios.Project("a", "module \"net\" {\n  source = \"../../modules/net\"\n}\n"))
            .Write("envs/b/main.tf", Scenarios.Project("b"))
            .Write("README.md", "# infra\n");
        var @base = repo.Commit("two projects and a module");
        repo.Checkout("feature", create: true);
        repo.Write("envs/a/extra.tf", "resource \"sim_thing\" \"a_extra\" {\n  name = \"more\"\n}\n")
            .Write("envs/b/extra.tf", "resource \"sim_thing\" \"b_extra\" {\n  name = \"more\"\n}\n");
        var head = repo.Commit("grow a and b");
        repo.SetPullRef(Number, head);

        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, Number, @base, head, author: "alice"));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Scenarios.Patience, "both plans");
        foreach (var name in new[] { A, B })
        {
            await _app.SendWebhookAsync("check_run", EnsembleTestApp.CheckRunActionPayload(repo, _app.GitHub.Latest(name, head)!, "approve", "bob"));
        }

        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble", head) is { Conclusion: "success" }, Scenarios.Patience, "both approved");
        repo.Checkout("main");
        return new Pr(repo, @base, head);
    }

    /// <summary>Commits on main and tells Ensemble with GitHub's push payload; returns the new main.</summary>
    private async Task<string> PushToMainAsync(Pr pr, Action<TestRepository> change)
    {
        var before = pr.Repo.Head();
        change(pr.Repo);
        var after = pr.Repo.Commit("change main");
        await SendPushAsync(pr.Repo, "refs/heads/main", before, after);
        return after;
    }

    private async Task SendPushAsync(TestRepository repo, string @ref, string before, string after)
    {
        var payload = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "webhooks", "push", "with-new-branch.json")))!.AsObject();
        payload["ref"] = @ref;
        payload["before"] = before;
        payload["after"] = after;
        payload["created"] = false;
        payload["installation"] = new JsonObject { ["id"] = EnsembleTestApp.InstallationId };
        var repository = payload["repository"]!.AsObject();
        repository["name"] = repo.Name;
        repository["full_name"] = repo.FullName;
        repository["owner"]!["login"] = repo.Owner;
        repository["default_branch"] = "main";
        var response = await _app.SendWebhookAsync("push", payload.ToJsonString());
        Assert.True(response.IsSuccessStatusCode, $"webhook answered {(int)response.StatusCode}");
    }

    private int CheckRunsOf(string name, string head) => _app.GitHub.CheckRuns.Count(c => c.Name == name && c.HeadSha == head);

    /// <summary>Every delivery processed and no job queued, scheduled or running for a while: nothing more will happen.</summary>
    private async Task WaitUntilQuietAsync()
    {
        var monitor = _app.Service<JobStorage>().GetMonitoringApi();
        var deadline = DateTime.UtcNow + Scenarios.Patience;
        var quietSince = DateTime.MaxValue;
        while (DateTime.UtcNow < deadline)
        {
            var busy = monitor.ProcessingCount() + monitor.EnqueuedCount("default") + monitor.ScheduledCount()
                + (await _app.Service<IStateStore>().ListUnprocessedDeliveriesAsync(DateTimeOffset.UtcNow.AddMinutes(1), 1)).Count;
            quietSince = busy > 0 ? DateTime.MaxValue : quietSince == DateTime.MaxValue ? DateTime.UtcNow : quietSince;
            if (DateTime.UtcNow - quietSince > TimeSpan.FromSeconds(2))
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("Ensemble did not settle");
    }

    [Fact]
    public async Task Push_ChangesAModuleOnlyAUses_AReplannedAndKeepsItsApprovalBUntouched()
    {
        var pr = await ApprovedPullRequestAsync();
        var bBefore = _app.GitHub.Latest(B, pr.Head)!;

        var after = await PushToMainAsync(pr, r => r.Write("modules/net/main.tf", "resource \"sim_thing\" \"net\" {\n  name = \"net-v2\"\n}\n"));

        await _app.GitHub.WaitUntilAsync(g => CheckRunsOf(A, pr.Head) == 2 && g.Latest(A, pr.Head) is { Status: "completed" },
            Scenarios.Patience, "the re-plan of envs/a");
        var a = _app.GitHub.Latest(A, pr.Head)!;
        var queued = a.History.First();
        Assert.Contains("`modules/net` (a module it uses)", queued.Summary, StringComparison.Ordinal);
        Assert.Contains(after[..7], queued.Summary, StringComparison.Ordinal);
        // The head's plan is identical (it still has the old module and the state did not move): approval kept.
        Assert.Equal("success", a.Conclusion);
        Assert.Contains("Auto-approved", a.Summary, StringComparison.Ordinal);
        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble", pr.Head) is { Conclusion: "success" }, Scenarios.Patience, "the aggregate");

        await WaitUntilQuietAsync();
        Assert.Equal(1, CheckRunsOf(B, pr.Head));
        Assert.Equal(bBefore.History.Count, _app.GitHub.Latest(B, pr.Head)!.History.Count);
        var state = _app.Service<IStateStore>();
        var head = (await state.ListHeadsAsync(new RepoRef(EnsembleTestApp.InstallationId, pr.Repo.Owner, pr.Repo.Name), Number)).Single();
        Assert.All(await state.ListRunsAsync(head.Id), r => Assert.Equal(RunStatus.Approved, r.Status));
        Assert.Empty(_app.GitHub.Unexpected);
    }

    [Fact]
    public async Task Push_ChangesNothingEitherProjectUses_NothingReplanned()
    {
        var pr = await ApprovedPullRequestAsync();
        var before = _app.GitHub.CheckRuns.Count;

        await PushToMainAsync(pr, r => r.Write("README.md", "# infra\n\nmore\n").Write("envs/c/main.tf", Scenarios.Project("c")));
        await WaitUntilQuietAsync();

        Assert.Equal(before, _app.GitHub.CheckRuns.Count);
        Assert.Equal("success", _app.GitHub.Latest("ensemble", pr.Head)!.Conclusion);
    }

    [Fact]
    public async Task Push_ToAnotherBranch_NothingReplanned()
    {
        var pr = await ApprovedPullRequestAsync();
        var before = _app.GitHub.CheckRuns.Count;
        pr.Repo.Checkout("other", create: true);
        var from = pr.Repo.Head();
        pr.Repo.Write("modules/net/main.tf", "resource \"sim_thing\" \"net\" {\n  name = \"elsewhere\"\n}\n");
        var to = pr.Repo.Commit("change a module on another branch");

        await SendPushAsync(pr.Repo, "refs/heads/other", from, to);
        await WaitUntilQuietAsync();

        Assert.Equal(before, _app.GitHub.CheckRuns.Count);
    }

    [Fact]
    public async Task Push_ThatMergesThePullRequestItself_NotReplanned()
    {
        // The push of the PR's own merge arrives with pull_request.closed; its approved plans go to apply untouched.
        var pr = await ApprovedPullRequestAsync();
        var before = _app.GitHub.CheckRuns.Count;
        // main also changed envs/a meanwhile, so the merge's envs/a is neither main's nor the planned one: only the
        // "the push contains this head" rule keeps the PR from being planned again.
        pr.Repo.Write("envs/a/tags.tf", "# owned by the platform team\n");
        var from = pr.Repo.Commit("tag a");
        pr.Repo.Git("merge", "-q", "--no-ff", "-m", $"Merge pull request #{Number}", "feature");

        await SendPushAsync(pr.Repo, "refs/heads/main", from, pr.Repo.Head());
        await WaitUntilQuietAsync();

        Assert.Equal(before, _app.GitHub.CheckRuns.Count);
    }
}
