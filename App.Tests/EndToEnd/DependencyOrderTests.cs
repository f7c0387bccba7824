using System.Text.Json.Nodes;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;

namespace Ensemble.Tests.EndToEnd;

/// <summary><c>depends_on</c> in <c>.ensemble.yml</c> orders the applies after a merge; a cycle is refused, visibly.</summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class DependencyOrderTests(PostgresFixture postgres, S3Fixture s3) : IClassFixture<PostgresFixture>, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private const int Number = 31;
    private readonly OutsideStates _states = new();
    private EnsembleTestApp _app = null!;

    public async Task InitializeAsync()
    {
        // The stand-in's state lives outside the workspaces (OutsideStates), so the process runner.
        _app = await EnsembleTestApp.StartAsync(await postgres.CreateDatabaseAsync(), s3.ServiceUrl, s3.Bucket,
            new Dictionary<string, string?> { ["Terraform:Runner"] = "process" });
        _app.GitHub.Permissions["bob"] = "write";
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _states.Dispose();
    }

    private string StateFile(string project) => _states.File(project);

    private string Project(string path, string resource) => _states.Project(path, OutsideStates.Thing(resource));

    /// <summary>
    /// main holds <paramref name="config"/> and three projects; the PR adds a resource to each; all approved, then merged.
    /// Returns the merge commit.
    /// </summary>
    private async Task<(TestRepository Repo, string Head, string Merge)> MergeApprovedAsync(string config)
    {
        string[] projects = ["envs/network", "envs/app", "envs/other"];
        var repo = _app.CreateRepository();
        repo.Write(".ensemble.yml", config);
        foreach (var project in projects)
        {
            repo.Write($"{project}/main.tf", Project(project, project.Split('/')[1]));
        }

        var @base = repo.Commit("three projects");
        repo.Checkout("feature", create: true);
        foreach (var project in projects)
        {
            repo.Write($"{project}/more.tf", $"resource \"sim_thing\" \"more\" {{\n  name = \"{project}\"\n}}\n");
        }

        var head = repo.Commit("grow all three");
        repo.SetPullRef(Number, head);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, Number, @base, head, author: "alice"));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 3), Scenarios.Patience, "three plans");
        await _app.SendWebhookAsync("check_run", EnsembleTestApp.CheckRunActionPayload(repo, _app.GitHub.Latest("ensemble", head)!, "approve-all", "bob"));
        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble", head) is { Conclusion: "success" }, Scenarios.Patience, "all approved");

        repo.Checkout("main");
        repo.Git("merge", "-q", "--no-ff", "-m", $"Merge pull request #{Number}", "feature");
        var merge = repo.Head();
        var closed = JsonNode.Parse(EnsembleTestApp.PullRequestPayload("closed", repo, Number, @base, head, merged: true))!.AsObject();
        closed["pull_request"]!["merge_commit_sha"] = merge;
        await _app.SendWebhookAsync("pull_request", closed.ToJsonString());
        return (repo, head, merge);
    }

    private Task WaitForAppliesAsync(string merge, int count) =>
        _app.GitHub.WaitUntilAsync(
            g => g.CheckRuns.Count(c => c.HeadSha == merge && c.ExternalId?.StartsWith("apply-", StringComparison.Ordinal) == true && c.Status == "completed") == count,
            Scenarios.Patience, $"{count} applies on the merge commit");

    private async Task<Dictionary<string, (ProjectRun Run, ApplyRecord? Apply)>> AppliesAsync(TestRepository repo, string head)
    {
        var state = _app.Service<IStateStore>();
        var row = (await state.ListHeadsAsync(new RepoRef(EnsembleTestApp.InstallationId, repo.Owner, repo.Name), Number)).Single(h => h.HeadSha == head);
        var result = new Dictionary<string, (ProjectRun, ApplyRecord?)>(StringComparer.Ordinal);
        foreach (var run in await state.ListRunsAsync(row.Id))
        {
            result[run.ProjectPath] = (run, await state.GetApplyAsync(run.Id));
        }

        return result;
    }

    [Fact]
    public async Task Merge_AppDependsOnNetwork_NetworkAppliedBeforeAppStartsAndOtherApplied()
    {
        var (repo, head, merge) = await MergeApprovedAsync("""
            version: 1
            projects:
              - path: envs/app
                depends_on: [envs/network]
            """);

        await WaitForAppliesAsync(merge, 3);

        var applies = await AppliesAsync(repo, head);
        Assert.All(applies.Values, a => Assert.Equal(RunStatus.Applied, a.Run.Status));
        var network = applies["envs/network"].Apply!;
        var app = applies["envs/app"].Apply!;
        Assert.True(app.StartedAt >= network.FinishedAt,
            $"envs/app started at {app.StartedAt:O}, before envs/network finished at {network.FinishedAt:O}");
        foreach (var project in new[] { "envs/network", "envs/app", "envs/other" })
        {
            Assert.Equal(1, JsonNode.Parse(File.ReadAllText(StateFile(project)))!["serial"]!.GetValue<long>());
        }
    }

    [Fact]
    public async Task Merge_DependsOnCycle_BothRefusedNamingTheCycleAndTheIndependentOneApplied()
    {
        var (repo, head, merge) = await MergeApprovedAsync("""
            version: 1
            projects:
              - path: envs/app
                depends_on: [envs/network]
              - path: envs/network
                depends_on: [envs/app]
            """);

        // Blocked applies are shown on the merge commit too, as failures.
        await WaitForAppliesAsync(merge, 3);
        await _app.GitHub.WaitUntilAsync(g => g.Comments.Any(c => c.Body.Contains("cycle", StringComparison.Ordinal)), Scenarios.Patience, "the cycle in the comment");
        var deadline = DateTime.UtcNow + Scenarios.Patience;
        while ((await AppliesAsync(repo, head)).Values.Any(a => a.Run.Status is RunStatus.Approved or RunStatus.Applying) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var applies = await AppliesAsync(repo, head);
        Assert.Equal(RunStatus.Applied, applies["envs/other"].Run.Status);
        foreach (var project in new[] { "envs/app", "envs/network" })
        {
            Assert.Equal(RunStatus.ApplyFailed, applies[project].Run.Status);
            Assert.Equal(ApplyOutcome.Blocked, applies[project].Apply!.Outcome);
            Assert.Contains("cycle", applies[project].Apply!.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(StateFile(project)), $"{project} must not be applied");
        }

        var pr = _app.GitHub.Latest("ensemble: envs/app", head)!;
        Assert.Equal("failure", pr.Conclusion);
        Assert.Contains("envs/app → envs/network → envs/app", pr.Summary + pr.Title, StringComparison.Ordinal);
    }
}
