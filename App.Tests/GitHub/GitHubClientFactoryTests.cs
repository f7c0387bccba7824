using Ensemble.App.GitHub;
using Ensemble.Jobs.GitHub;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Ensemble.Tests.GitHub;

public class GitHubClientFactoryTests
{
    [Fact]
    public async Task ForInstallationAsync_LoopbackApiUrl_RequestsGoToExactlyThatUrl()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();
        github.Server.Given(Request.Create().WithPath("/repos/octo-org/infra/check-runs").UsingPost())
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody("""{"id":1}"""));

        await github.Get<IGitHubChecks>().CreateCheckRunAsync(GitHubDouble.Repo, OctokitChecksClientTests.Queued());

        Assert.Equal(
            ["/app/installations/42/access_tokens", "/repos/octo-org/infra/check-runs"],
            github.Server.LogEntries.Select(e => e.RequestMessage.AbsolutePath).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(github.Server.LogEntries, e => e.RequestMessage.AbsolutePath.Contains("api/v3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ForInstallationAsync_EnterpriseStyleApiUrlWithoutSlash_KeepsItsPath()
    {
        using var github = new GitHubDouble(apiPath: "/api/v3");
        github.StubInstallationToken();
        github.Server.Given(Request.Create().WithPath("/api/v3/repos/octo-org/infra/check-runs").UsingPost())
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody("""{"id":1}"""));

        var id = await github.Get<IGitHubChecks>().CreateCheckRunAsync(GitHubDouble.Repo, OctokitChecksClientTests.Queued());

        Assert.Equal(1, id);
        Assert.Equal(
            ["/api/v3/app/installations/42/access_tokens", "/api/v3/repos/octo-org/infra/check-runs"],
            github.Server.LogEntries.Select(e => e.RequestMessage.AbsolutePath).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ForApp_Always_UsesConfiguredBaseUrl()
    {
        using var github = new GitHubDouble();

        var client = github.Get<GitHubClientFactory>().ForApp();

        Assert.Equal(new Uri(github.ApiUrl), client.Connection.BaseAddress);
    }

    [Fact]
    public async Task ForInstallationAsync_TokenExpiresWhileClientIsHeld_NextRequestUsesNewToken()
    {
        using var github = new GitHubDouble();
        var expiresAt = github.Time.GetUtcNow().AddHours(1);
        const string tokenPath = "/app/installations/42/access_tokens";
        github.Server.Given(Request.Create().WithPath(tokenPath).UsingPost()).InScenario("t").WillSetStateTo("1")
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody(GitHubDouble.TokenJson("ghs_old", expiresAt)));
        github.Server.Given(Request.Create().WithPath(tokenPath).UsingPost()).InScenario("t").WhenStateIs("1")
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody(GitHubDouble.TokenJson("ghs_new", expiresAt.AddHours(1))));
        github.Server.Given(Request.Create().WithPath("/repos/octo-org/infra/issues/comments/5").UsingPatch())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("""{"id":5}"""));

        var client = await github.Get<GitHubClientFactory>().ForInstallationAsync(GitHubDouble.InstallationId);
        await client.Issue.Comment.Update("octo-org", "infra", 5, "one");
        github.Time.Advance(TimeSpan.FromMinutes(56));
        await client.Issue.Comment.Update("octo-org", "infra", 5, "two");

        var authorizations = github.Requests("PATCH", "/comments/5").Select(e => e.RequestMessage.Headers!["Authorization"].Single());
        Assert.Equal(["Bearer ghs_old", "Bearer ghs_new"], authorizations);
    }
}
