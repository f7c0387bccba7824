using Ensemble.Tests.Infrastructure;

namespace Ensemble.Tests.EndToEnd;

/// <summary>The review loop in GitHub: Approve buttons, who may approve, identical re-plans, re-plans on demand.</summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class ApprovalTests(PostgresFixture postgres, S3Fixture s3) : IClassFixture<PostgresFixture>, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private EnsembleTestApp _app = null!;
    private FakeGitHub GitHub => _app.GitHub;

    public async Task InitializeAsync()
    {
        _app = await EnsembleTestApp.StartAsync(await postgres.CreateDatabaseAsync(), s3.ServiceUrl, s3.Bucket);
        GitHub.Permissions["bob"] = "write";
        GitHub.Permissions["carol"] = "admin";
        GitHub.Permissions["alice"] = "write";
        GitHub.Permissions["reader"] = "read";
        GitHub.Permissions["dave"] = "read";
        GitHub.TeamMembers.Add("acme/platform/dave");
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private async Task<(TestRepository Repo, string Head)> OpenedAndPlannedAsync(string devExtra = "")
    {
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app, devExtra);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head, author: "alice"));
        await GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Scenarios.Patience, "plans to complete");
        return (repo, head);
    }

    private Task Click(TestRepository repo, string name, string head, string identifier, string user) =>
        _app.SendWebhookAsync("check_run", EnsembleTestApp.CheckRunActionPayload(repo, GitHub.Latest(name, head)!, identifier, user));

    private Task WaitFor(string name, string head, Func<CheckRunView, bool> condition, string what) =>
        GitHub.WaitUntilAsync(g => g.Latest(name, head) is { } run && condition(run), Scenarios.Patience, what);

    [Fact]
    public async Task Approve_OneOfTwoProjects_AggregateBlocksUntilTheOtherIsApproved()
    {
        var (repo, head) = await OpenedAndPlannedAsync();

        await Click(repo, "ensemble: envs/dev", head, "approve", "bob");
        await WaitFor("ensemble: envs/dev", head, r => r.Conclusion == "success", "dev approved");

        var dev = GitHub.Latest("ensemble: envs/dev", head)!;
        Assert.Contains("Approved by @bob", dev.Summary, StringComparison.Ordinal);
        Assert.Empty(dev.Actions);
        await WaitFor("ensemble", head, r => r.Summary?.Contains("approved", StringComparison.Ordinal) == true, "aggregate updated");
        Assert.Equal("action_required", GitHub.Latest("ensemble", head)!.Conclusion);

        await Click(repo, "ensemble: envs/prod", head, "approve", "carol");
        await WaitFor("ensemble", head, r => r.Conclusion == "success", "aggregate success");
        Assert.Equal("success", GitHub.Latest("ensemble: envs/prod", head)!.Conclusion);
    }

    [Fact]
    public async Task ApproveAll_OnTheAggregate_ApprovesEveryProject()
    {
        var (repo, head) = await OpenedAndPlannedAsync();
        Assert.Contains("approve-all", GitHub.Latest("ensemble", head)!.Actions);

        await Click(repo, "ensemble", head, "approve-all", "bob");

        await WaitFor("ensemble", head, r => r.Conclusion == "success", "aggregate success");
        Assert.Equal("success", GitHub.Latest("ensemble: envs/dev", head)!.Conclusion);
        Assert.Equal("success", GitHub.Latest("ensemble: envs/prod", head)!.Conclusion);
    }

    [Theory]
    [InlineData("alice", "opened this pull request")]
    [InlineData("reader", "read")]
    public async Task Approve_ByAuthorOrReadOnlyUser_RefusedVisiblyAndNothingChanges(string user, string reasonPart)
    {
        var (repo, head) = await OpenedAndPlannedAsync();

        await Click(repo, "ensemble: envs/dev", head, "approve", user);
        await GitHub.WaitUntilAsync(g => g.Comments.Any(c => c.Body.Contains($"@{user}", StringComparison.Ordinal)), Scenarios.Patience, "a refusal comment");

        var dev = GitHub.Latest("ensemble: envs/dev", head)!;
        Assert.Equal("action_required", dev.Conclusion);
        Assert.Contains("approve", dev.Actions);
        Assert.Contains("refused", dev.Summary, StringComparison.Ordinal);
        Assert.Contains(reasonPart, dev.Summary, StringComparison.Ordinal);
        var comment = GitHub.Comments.Single(c => c.Body.Contains($"@{user}", StringComparison.Ordinal));
        Assert.Equal(7, comment.IssueNumber);
        Assert.Contains("Who may approve", comment.Body, StringComparison.Ordinal);
        Assert.Equal("action_required", GitHub.Latest("ensemble", head)!.Conclusion);
    }

    [Fact]
    public async Task Push_PlanUnchanged_AutoApproved_PlanChanged_NeedsApprovalAgain()
    {
        var (repo, head) = await OpenedAndPlannedAsync();
        await Click(repo, "ensemble", head, "approve-all", "bob");
        await WaitFor("ensemble", head, r => r.Conclusion == "success", "approved");

        // A comment-only edit re-plans both projects to identical plans: approved again automatically.
        repo.Write("envs/dev/notes.tf", "# just a comment\n").Write("envs/prod/notes.tf", "# just a comment\n");
        var second = repo.Commit("comments only");
        repo.SetPullRef(7, second);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("synchronize", repo, 7, repo.Git("rev-parse", "main").Trim(), second, author: "alice"));
        await GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, second, 2), Scenarios.Patience, "second plans");

        var dev = GitHub.Latest("ensemble: envs/dev", second)!;
        Assert.Equal("success", dev.Conclusion);
        Assert.Contains("Auto-approved: identical to the plan approved by @bob", dev.Summary, StringComparison.Ordinal);
        Assert.Equal("success", GitHub.Latest("ensemble", second)!.Conclusion);
        Assert.Equal("cancelled", GitHub.Latest("ensemble", head)!.Conclusion);

        // A real change to prod's plan needs a new approval; dev (still changed by the PR) stays auto-approved.
        repo.Write("envs/prod/more.tf", "resource \"sim_thing\" \"prod_more\" {\n  name = \"new\"\n}\n");
        var third = repo.Commit("change prod's plan");
        repo.SetPullRef(7, third);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("synchronize", repo, 7, repo.Git("rev-parse", "main").Trim(), third, author: "alice"));
        await GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, third, 2), Scenarios.Patience, "third plans");
        Assert.Contains("Auto-approved", GitHub.Latest("ensemble: envs/dev", third)!.Summary, StringComparison.Ordinal);

        Assert.Equal("action_required", GitHub.Latest("ensemble: envs/prod", third)!.Conclusion);
        Assert.Equal("action_required", GitHub.Latest("ensemble", third)!.Conclusion);
    }

    [Fact]
    public async Task Approve_ClickOnSupersededCheckRun_ApprovesNothing()
    {
        var (repo, head) = await OpenedAndPlannedAsync();
        var oldDev = GitHub.Latest("ensemble: envs/dev", head)!;

        repo.Write("envs/dev/more.tf", "resource \"sim_thing\" \"dev_more\" {\n  name = \"x\"\n}\n");
        var second = repo.Commit("more");
        repo.SetPullRef(7, second);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("synchronize", repo, 7, repo.Git("rev-parse", "main").Trim(), second, author: "alice"));
        await GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, second, 2), Scenarios.Patience, "new plans");

        await _app.SendWebhookAsync("check_run", EnsembleTestApp.CheckRunActionPayload(repo, oldDev, "approve", "bob"));
        await GitHub.WaitUntilAsync(g => g.Comments.Any(c => c.Body.Contains("@bob", StringComparison.Ordinal)), Scenarios.Patience, "the refusal");

        Assert.Contains("newer commit", GitHub.Comments.Last().Body, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("action_required", GitHub.Latest("ensemble: envs/dev", second)!.Conclusion);
        Assert.Equal("action_required", GitHub.Latest("ensemble", second)!.Conclusion);
    }

    [Fact]
    public async Task Comment_ReplanOneProject_ReplansOnlyIt_AndAcknowledges()
    {
        var (repo, head) = await OpenedAndPlannedAsync();
        var devRuns = GitHub.CheckRuns.Count(c => c.Name == "ensemble: envs/dev");
        var prodRuns = GitHub.CheckRuns.Count(c => c.Name == "ensemble: envs/prod");

        await _app.SendWebhookAsync("issue_comment", EnsembleTestApp.CommentPayload(repo, 7, "/ensemble replan envs/dev", "bob", 9001));
        await GitHub.WaitUntilAsync(g => g.CheckRuns.Count(c => c.Name == "ensemble: envs/dev") == devRuns + 1 && Scenarios.AllCompleted(g, head, 2),
            Scenarios.Patience, "dev re-planned");

        Assert.Contains(GitHub.Reactions, r => r.Comment == 9001 && r.Reaction == "+1");
        Assert.Equal(prodRuns, GitHub.CheckRuns.Count(c => c.Name == "ensemble: envs/prod"));
        Assert.Equal("action_required", GitHub.Latest("ensemble: envs/dev", head)!.Conclusion);

        await _app.SendWebhookAsync("issue_comment", EnsembleTestApp.CommentPayload(repo, 7, "/ensemble replan", "bob", 9002));
        await GitHub.WaitUntilAsync(g => g.CheckRuns.Count(c => c.Name == "ensemble: envs/prod") == prodRuns + 1 && Scenarios.AllCompleted(g, head, 2),
            Scenarios.Patience, "all re-planned");
    }

    [Fact]
    public async Task Comment_UnknownProjectOrCommand_HelpfulReply_NothingPlanned()
    {
        var (repo, head) = await OpenedAndPlannedAsync();
        var before = GitHub.CheckRuns.Count;

        await _app.SendWebhookAsync("issue_comment", EnsembleTestApp.CommentPayload(repo, 7, "/ensemble replan envs/nope; rm -rf /", "bob", 9101));
        await _app.SendWebhookAsync("issue_comment", EnsembleTestApp.CommentPayload(repo, 7, "/ensemble replan envs/nope", "bob", 9102));
        await _app.SendWebhookAsync("issue_comment", EnsembleTestApp.CommentPayload(repo, 7, "/ensemble frobnicate", "bob", 9103));
        await GitHub.WaitUntilAsync(g => g.Comments.Count >= 3, Scenarios.Patience, "three replies");

        Assert.Contains(GitHub.Comments, c => c.Body.Contains("envs/dev", StringComparison.Ordinal) && c.Body.Contains("envs/prod", StringComparison.Ordinal));
        Assert.All(GitHub.Comments, c => Assert.Contains("/ensemble", c.Body, StringComparison.Ordinal));
        Assert.Equal(before, GitHub.CheckRuns.Count);
        Assert.Contains(GitHub.Reactions, r => r.Comment == 9103 && r.Reaction == "confused");
    }

    [Fact]
    public async Task Comment_FromReadOnlyUser_RefusedNothingPlanned()
    {
        var (repo, head) = await OpenedAndPlannedAsync();
        var before = GitHub.CheckRuns.Count;

        await _app.SendWebhookAsync("issue_comment", EnsembleTestApp.CommentPayload(repo, 7, "/ensemble replan", "reader", 9201));
        await GitHub.WaitUntilAsync(g => g.Comments.Count >= 1, Scenarios.Patience, "a reply");

        Assert.Contains("write", GitHub.Comments.Single().Body, StringComparison.Ordinal);
        Assert.Equal(before, GitHub.CheckRuns.Count);
    }

    [Fact]
    public async Task Config_ApproversFromDefaultBranch_PrWideningItsOwnApproversHasNoEffect()
    {
        var repo = _app.CreateRepository();
        repo.Write("envs/prod/main.tf", Scenarios.Project("prod"))
            .Write(".ensemble.yml", "version: 1\napprovers:\n  - paths: [\"envs/prod/**\"]\n    users: [\"carol\"]\n    teams: [\"acme/platform\"]\n");
        var @base = repo.Commit("prod with approvers");
        repo.Checkout("feature", create: true);
        repo.Write("envs/prod/more.tf", "resource \"sim_thing\" \"more\" {\n  name = \"x\"\n}\n")
            .Write(".ensemble.yml", "version: 1\napprovers:\n  - paths: [\"envs/prod/**\"]\n    users: [\"carol\", \"alice\", \"bob\"]\nprojects:\n  - path: envs/prod\n    allow_self_approval: true\n");
        var head = repo.Commit("widen approvers");
        repo.SetPullRef(7, head);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head, author: "alice"));
        await GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 1), Scenarios.Patience, "the plan");
        Assert.Contains("@carol", GitHub.Latest("ensemble", head)!.Summary, StringComparison.Ordinal);

        await Click(repo, "ensemble: envs/prod", head, "approve", "bob");
        await Click(repo, "ensemble: envs/prod", head, "approve", "alice");
        await GitHub.WaitUntilAsync(g => g.Comments.Count >= 2, Scenarios.Patience, "two refusals");
        Assert.Contains(GitHub.Comments, c => c.Body.Contains("@bob", StringComparison.Ordinal) && c.Body.Contains("@carol", StringComparison.Ordinal));
        Assert.Contains(GitHub.Comments, c => c.Body.Contains("@alice", StringComparison.Ordinal) && c.Body.Contains("refused", StringComparison.Ordinal));
        Assert.Equal("action_required", GitHub.Latest("ensemble: envs/prod", head)!.Conclusion);

        // Named approvers replace the default rule: dave only reads the repository but is in the named team.
        await Click(repo, "ensemble: envs/prod", head, "approve", "dave");
        await WaitFor("ensemble", head, r => r.Conclusion == "success", "dave's approval");
        Assert.Contains("Approved by @dave", GitHub.Latest("ensemble: envs/prod", head)!.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_Invalid_AggregateNamesLineAndKey_NothingPlanned()
    {
        var repo = _app.CreateRepository();
        repo.Write("envs/prod/main.tf", Scenarios.Project("prod"));
        var @base = repo.Commit("base");
        repo.Checkout("feature", create: true);
        repo.Write("envs/prod/more.tf", "resource \"sim_thing\" \"more\" {\n  name = \"x\"\n}\n")
            .Write(".ensemble.yml", "version: 1\nprojects:\n  - path: envs/prod\n    depends_on: 5\n");
        var head = repo.Commit("bad config");
        repo.SetPullRef(7, head);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head, author: "alice"));
        await WaitFor("ensemble", head, r => r.Status == "completed", "the aggregate");

        var aggregate = GitHub.Latest("ensemble", head)!;
        Assert.Equal("failure", aggregate.Conclusion);
        Assert.Contains("line 4", aggregate.Summary, StringComparison.Ordinal);
        Assert.Contains("depends_on", aggregate.Summary, StringComparison.Ordinal);
        Assert.DoesNotContain(GitHub.CheckRuns, c => c.Name.StartsWith("ensemble: ", StringComparison.Ordinal));
    }
}
