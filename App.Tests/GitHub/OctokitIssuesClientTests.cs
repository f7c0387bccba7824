using Ensemble.Jobs.GitHub;
using System.Text.Json;
using Ensemble.App.GitHub;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Ensemble.Tests.GitHub;

public class OctokitIssuesClientTests
{
    private static Response Json(int status, string body) =>
        (Response)Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json").WithBody(body);

    [Theory]
    [InlineData("admin")]
    [InlineData("write")]
    [InlineData("read")]
    [InlineData("none")]
    public async Task GetPermissionAsync_Collaborator_ReturnsGitHubsLevel(string level)
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();
        github.Server.Given(Request.Create().WithPath("/repos/octo-org/infra/collaborators/mona/permission").UsingGet())
            .RespondWith(Json(200, $$"""{"permission":"{{level}}","user":{"login":"mona","id":1} }"""));

        var permission = await github.Get<IGitHubIssues>().GetPermissionAsync(GitHubDouble.Repo, "mona");

        Assert.Equal(level, permission);
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task GetPermissionAsync_UnknownUser_None()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();
        github.Server.Given(Request.Create().WithPath("/repos/octo-org/infra/collaborators/ghost/permission").UsingGet())
            .RespondWith(Json(404, """{"message":"Not Found"}"""));

        Assert.Equal("none", await github.Get<IGitHubIssues>().GetPermissionAsync(GitHubDouble.Repo, "ghost"));
    }

    [Fact]
    public async Task CreateCommentAsync_Always_PostsBodyAndReturnsId()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();
        github.Server.Given(Request.Create().WithPath("/repos/octo-org/infra/issues/7/comments").UsingPost())
            .RespondWith(Json(201, """{"id":9001,"body":"Planning…"}"""));

        var id = await github.Get<IGitHubIssues>().CreateCommentAsync(GitHubDouble.Repo, 7, "Planning…");

        Assert.Equal(9001, id);
        var body = JsonDocument.Parse(Assert.Single(github.Requests("POST", "/issues/7/comments")).RequestMessage.Body!).RootElement;
        Assert.Equal("Planning…", body.GetProperty("body").GetString());
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task UpdateCommentAsync_Always_PatchesTheComment()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();
        github.Server.Given(Request.Create().WithPath("/repos/octo-org/infra/issues/comments/9001").UsingPatch())
            .RespondWith(Json(200, """{"id":9001}"""));

        await github.Get<IGitHubIssues>().UpdateCommentAsync(GitHubDouble.Repo, 9001, "Done");

        var body = JsonDocument.Parse(Assert.Single(github.Requests("PATCH", "/issues/comments/9001")).RequestMessage.Body!).RootElement;
        Assert.Equal("Done", body.GetProperty("body").GetString());
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Theory]
    [InlineData("+1")]
    [InlineData("eyes")]
    [InlineData("rocket")]
    public async Task AddReactionAsync_KnownContent_PostsGitHubsName(string content)
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();
        github.Server.Given(Request.Create().WithPath("/repos/octo-org/infra/issues/comments/9001/reactions").UsingPost())
            .RespondWith(Json(201, $$"""{"id":1,"content":"{{content}}"}"""));

        await github.Get<IGitHubIssues>().AddReactionAsync(GitHubDouble.Repo, 9001, content);

        var body = JsonDocument.Parse(Assert.Single(github.Requests("POST", "/reactions")).RequestMessage.Body!).RootElement;
        Assert.Equal(content, body.GetProperty("content").GetString());
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task AddReactionAsync_UnknownContent_ThrowsWithoutCallingGitHub()
    {
        using var github = new GitHubDouble();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => github.Get<IGitHubIssues>().AddReactionAsync(GitHubDouble.Repo, 9001, "thumbsup"));

        Assert.Contains("'thumbsup' is not a GitHub reaction", error.Message);
        Assert.Empty(github.Server.LogEntries);
    }
}
