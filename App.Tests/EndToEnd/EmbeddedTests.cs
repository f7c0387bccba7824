using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ensemble.Tests.EndToEnd;

/// <summary>The embedded defaults (SQLite state, in-memory jobs, artifacts on disk) and the dashboard's lock.</summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class EmbeddedTests : IAsyncLifetime
{
    private EnsembleTestApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await EnsembleTestApp.StartAsync("", "", "", new Dictionary<string, string?>
        {
            ["Database:ConnectionString"] = null,
            ["Artifacts:S3:Bucket"] = null,
        });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task EmbeddedDefaults_PullRequestOpened_PlansWithSqliteAndLocalArtifacts()
    {
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Scenarios.Patience, "plans to complete");

        Assert.Equal("action_required", _app.GitHub.Latest("ensemble", head)!.Conclusion);
        Assert.True(File.Exists(Path.Combine(_app.WorkDirectory, "state", "ensemble.db")));
        var stored = Directory.GetFiles(Path.Combine(_app.WorkDirectory, "artifacts"), "plan.tfplan", SearchOption.AllDirectories);
        Assert.Equal(2, stored.Length);
        var runs = await _app.Service<IStateStore>().ListRunsAsync(
            (await _app.Service<IStateStore>().ListHeadsAsync(new RepoRef(EnsembleTestApp.InstallationId, repo.Owner, repo.Name), 7)).Single().Id);
        Assert.All(runs, r => Assert.Equal(RunStatus.AwaitingApproval, r.Status));
    }

    [Fact]
    public async Task Restart_MergeRecordedButApplyJobsLost_ApprovedAppliedAndCaughtApplyingReportedNeverReRun()
    {
        // The embedded mode keeps jobs in memory: a restart after a merge loses its apply jobs.
        _app.GitHub.Permissions["bob"] = "write";
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Scenarios.Patience, "plans to complete");
        await _app.SendWebhookAsync("check_run", EnsembleTestApp.CheckRunActionPayload(repo, _app.GitHub.Latest("ensemble", head)!, "approve-all", "bob"));
        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble", head) is { Conclusion: "success" }, Scenarios.Patience, "both approvals");

        repo.Checkout("main");
        repo.Git("merge", "-q", "--no-ff", "-m", "Merge pull request #7", "feature");
        var mergeSha = repo.Head();
        var state = _app.Service<IStateStore>();
        var headRow = (await state.ListHeadsAsync(new RepoRef(EnsembleTestApp.InstallationId, repo.Owner, repo.Name), 7)).Single();
        var runs = (await state.ListRunsAsync(headRow.Id)).ToDictionary(r => r.ProjectPath);
        var merge = await state.RecordMergeAsync(headRow.Id, mergeSha, DateTimeOffset.UtcNow);
        // envs/dev was being applied when the process died; envs/prod's job never ran.
        Assert.True(await state.StartApplyAsync(runs["envs/dev"].Id, merge.Id, "hangfire-lost",
            Ensemble.Jobs.Core.Approvals.RunStateMachine.SourcesOf(new Ensemble.Jobs.Core.Approvals.RunEvent.ApplyStarted()), DateTimeOffset.UtcNow));

        await ActivatorUtilities.CreateInstance<Ensemble.App.Hosting.RecoveryService>(_app.App.Services).StartAsync(CancellationToken.None);

        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble: envs/prod", mergeSha) is { Status: "completed" }
            && g.Latest("ensemble: envs/dev", mergeSha) is { Status: "completed" }, Scenarios.Patience, "both results on the merge commit");
        Assert.Equal("success", _app.GitHub.Latest("ensemble: envs/prod", mergeSha)!.Conclusion);
        var dev = _app.GitHub.Latest("ensemble: envs/dev", mergeSha)!;
        Assert.Equal("failure", dev.Conclusion);
        Assert.Contains("interrupted", dev.Title, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("never runs an apply twice", dev.Summary, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Applied, (await state.GetRunAsync(runs["envs/prod"].Id))!.Status);
        Assert.Equal(RunStatus.ApplyFailed, (await state.GetRunAsync(runs["envs/dev"].Id))!.Status);
    }

    [Fact]
    public async Task Dashboard_WithoutOrWithWrongCredentials_401_WithRightOnes_200()
    {
        using var http = new HttpClient();
        var url = new Uri(_app.Address, "/hangfire");

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(url)).StatusCode);

        using var wrong = new HttpRequestMessage(HttpMethod.Get, url);
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:guess")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);

        using var right = new HttpRequestMessage(HttpMethod.Get, url);
        right.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:dashboard-test-password")));
        var response = await http.SendAsync(right);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Ensemble jobs", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
