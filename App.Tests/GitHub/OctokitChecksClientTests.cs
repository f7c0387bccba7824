using System.Text.Json;
using Ensemble.App.GitHub;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.GitHub;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Ensemble.Tests.GitHub;

public class OctokitChecksClientTests
{
    private const string Sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    private const string RunsPath = "/repos/octo-org/infra/check-runs";

    internal static CheckRunRequest Queued() => new()
    {
        Name = "ensemble: envs/prod",
        HeadSha = Sha,
        Status = CheckStatus.Queued,
    };

    private static CheckRunRequest AwaitingApproval() => new()
    {
        Name = "ensemble: envs/prod",
        HeadSha = Sha,
        Status = CheckStatus.Completed,
        Conclusion = CheckConclusion.ActionRequired,
        Output = new CheckRunOutput("Plan: 1 to add", "**1** to add, 0 to change, 0 to destroy", "```diff\n+ aws_s3_bucket.logs\n```"),
        ExternalId = "run-17",
        DetailsUrl = "https://ensemble.example.com/runs/17",
        StartedAt = new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero),
        CompletedAt = new DateTimeOffset(2025, 3, 1, 12, 3, 0, TimeSpan.Zero),
        Actions = [new CheckRunAction("approve", "Approve", "Approve this plan for apply after merge")],
    };

    private static GitHubDouble WithCheckRuns()
    {
        var github = new GitHubDouble();
        github.StubInstallationToken();
        github.Server.Given(Request.Create().WithPath(RunsPath).UsingPost())
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody("""{"id":4242,"name":"ensemble: envs/prod"}"""));
        github.Server.Given(Request.Create().WithPath(RunsPath + "/4242").UsingPatch())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("""{"id":4242}"""));
        return github;
    }

    private static JsonElement Body(WireMock.Logging.ILogEntry entry) => JsonDocument.Parse(entry.RequestMessage.Body!).RootElement;

    [Fact]
    public async Task CreateCheckRunAsync_AwaitingApproval_PostsTheRunAndReturnsItsId()
    {
        using var github = WithCheckRuns();

        var id = await github.Get<IGitHubChecks>().CreateCheckRunAsync(GitHubDouble.Repo, AwaitingApproval());

        Assert.Equal(4242, id);
        var body = Body(Assert.Single(github.Requests("POST", RunsPath)));
        Assert.Equal("ensemble: envs/prod", body.GetProperty("name").GetString());
        Assert.Equal(Sha, body.GetProperty("head_sha").GetString());
        Assert.Equal("completed", body.GetProperty("status").GetString());
        Assert.Equal("action_required", body.GetProperty("conclusion").GetString());
        Assert.Equal("run-17", body.GetProperty("external_id").GetString());
        Assert.Equal("https://ensemble.example.com/runs/17", body.GetProperty("details_url").GetString());
        Assert.Equal(DateTimeOffset.Parse("2025-03-01T12:00:00Z"), body.GetProperty("started_at").GetDateTimeOffset());
        Assert.Equal(DateTimeOffset.Parse("2025-03-01T12:03:00Z"), body.GetProperty("completed_at").GetDateTimeOffset());
        var output = body.GetProperty("output");
        Assert.Equal("Plan: 1 to add", output.GetProperty("title").GetString());
        Assert.Equal("**1** to add, 0 to change, 0 to destroy", output.GetProperty("summary").GetString());
        Assert.Equal("```diff\n+ aws_s3_bucket.logs\n```", output.GetProperty("text").GetString());
        var action = Assert.Single(body.GetProperty("actions").EnumerateArray());
        Assert.Equal("approve", action.GetProperty("identifier").GetString());
        Assert.Equal("Approve", action.GetProperty("label").GetString());
        Assert.Equal("Approve this plan for apply after merge", action.GetProperty("description").GetString());
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task CreateCheckRunAsync_Queued_SendsNoConclusionNorCompletion()
    {
        using var github = WithCheckRuns();

        await github.Get<IGitHubChecks>().CreateCheckRunAsync(GitHubDouble.Repo, Queued());

        var body = Body(Assert.Single(github.Requests("POST", RunsPath)));
        Assert.Equal("queued", body.GetProperty("status").GetString());
        Assert.False(body.TryGetProperty("conclusion", out _));
        Assert.False(body.TryGetProperty("completed_at", out _));
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task CreateCheckRunAsync_InstallationClient_AuthenticatesWithInstallationToken()
    {
        using var github = WithCheckRuns();

        await github.Get<IGitHubChecks>().CreateCheckRunAsync(GitHubDouble.Repo, Queued());

        var request = Assert.Single(github.Requests("POST", RunsPath)).RequestMessage;
        Assert.Equal("Bearer ghs_first", request.Headers!["Authorization"].Single());
        Assert.StartsWith("Ensemble", request.Headers["User-Agent"].Single());
    }

    [Fact]
    public async Task UpdateCheckRunAsync_Approved_PatchesTheRunAndClearsActions()
    {
        using var github = WithCheckRuns();
        var approved = AwaitingApproval() with { Conclusion = CheckConclusion.Success, Actions = [] };

        await github.Get<IGitHubChecks>().UpdateCheckRunAsync(GitHubDouble.Repo, 4242, approved);

        var body = Body(Assert.Single(github.Requests("PATCH", RunsPath + "/4242")));
        Assert.Equal("completed", body.GetProperty("status").GetString());
        Assert.Equal("success", body.GetProperty("conclusion").GetString());
        Assert.Equal("Plan: 1 to add", body.GetProperty("output").GetProperty("title").GetString());
        Assert.Equal(0, body.GetProperty("actions").GetArrayLength());
        Assert.False(body.TryGetProperty("head_sha", out _));
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task UpdateCheckRunAsync_InProgress_SendsStatusWithoutConclusion()
    {
        using var github = WithCheckRuns();
        var planning = Queued() with { Status = CheckStatus.InProgress, Output = new CheckRunOutput("Planning", "terraform plan is running") };

        await github.Get<IGitHubChecks>().UpdateCheckRunAsync(GitHubDouble.Repo, 4242, planning);

        var body = Body(Assert.Single(github.Requests("PATCH", RunsPath + "/4242")));
        Assert.Equal("in_progress", body.GetProperty("status").GetString());
        Assert.False(body.TryGetProperty("conclusion", out _));
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task CreateCheckRunAsync_OversizedSummary_CutsVisiblyWithinLimit()
    {
        using var github = WithCheckRuns();
        var huge = AwaitingApproval() with { Output = new CheckRunOutput("Plan", new string('x', 70_000)) };

        await github.Get<IGitHubChecks>().CreateCheckRunAsync(GitHubDouble.Repo, huge);

        var summary = Body(Assert.Single(github.Requests("POST", RunsPath))).GetProperty("output").GetProperty("summary").GetString()!;
        Assert.Equal(CheckRunOutput.MaxLength, summary.Length);
        Assert.Contains("cut by Ensemble", summary);
        Assert.Contains("70,000", summary);
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public void Truncate_SurrogatePairAtCut_NeverSplitsIt()
    {
        var value = new string('a', 100) + "😀" + new string('b', 100);
        for (var max = 150; max < 200; max++)
        {
            var cut = OctokitChecksClient.Truncate(value, max);
            Assert.True(cut.Length <= max);
            Assert.False(char.IsHighSurrogate(cut[cut.IndexOf('\n') - 1]), $"split a surrogate pair at {max}");
        }
    }

    public static TheoryData<string, CheckRunRequest> Invalid() => new()
    {
        { "4 actions", AwaitingApproval() with { Actions = [.. Enumerable.Range(0, 4).Select(i => new CheckRunAction($"a{i}", "A", "B"))] } },
        { "identifier 21", AwaitingApproval() with { Actions = [new CheckRunAction(new string('i', 21), "Approve", "d")] } },
        { "label 21", AwaitingApproval() with { Actions = [new CheckRunAction("approve", new string('l', 21), "d")] } },
        { "description 41", AwaitingApproval() with { Actions = [new CheckRunAction("approve", "Approve", new string('d', 41))] } },
        { "empty identifier", AwaitingApproval() with { Actions = [new CheckRunAction("", "Approve", "d")] } },
        { "conclusion while queued", Queued() with { Conclusion = CheckConclusion.Success } },
        { "completed without conclusion", Queued() with { Status = CheckStatus.Completed } },
        { "completed_at while in progress", Queued() with { Status = CheckStatus.InProgress, CompletedAt = DateTimeOffset.UnixEpoch } },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task CreateCheckRunAsync_BreaksGitHubLimits_ThrowsWithoutCallingGitHub(string why, CheckRunRequest request)
    {
        using var github = WithCheckRuns();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => github.Get<IGitHubChecks>().CreateCheckRunAsync(GitHubDouble.Repo, request));

        Assert.Contains("ensemble: envs/prod", error.Message);
        Assert.True(github.Requests("POST", RunsPath).Count == 0, why);
    }

    [Fact]
    public void Validate_ExactLimits_Accepted()
    {
        var request = AwaitingApproval() with
        {
            Actions =
            [
                new CheckRunAction(new string('i', 20), new string('l', 20), new string('d', 40)),
                new CheckRunAction("replan", "Replan", "Plan again"),
                new CheckRunAction("approve-all", "Approve all", "Approve every project"),
            ],
        };

        OctokitChecksClient.Validate(request);
    }
}
