using Ensemble.App.GitHub;
using Ensemble.Jobs.GitHub;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Ensemble.Tests.GitHub;

public class InstallationTokenProviderTests
{
    private const string TokenPath = "/app/installations/42/access_tokens";

    [Fact]
    public async Task GetTokenAsync_TwoCalls_FetchesOnceAndReuses()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken("ghs_first");
        var tokens = github.Get<IInstallationTokenSource>();

        var first = await tokens.GetTokenAsync(GitHubDouble.InstallationId);
        var second = await tokens.GetTokenAsync(GitHubDouble.InstallationId);

        Assert.Equal("ghs_first", first);
        Assert.Equal("ghs_first", second);
        Assert.Single(github.Requests("POST", TokenPath));
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task GetTokenAsync_Always_AuthenticatesWithAppJwt()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();

        await github.Get<IInstallationTokenSource>().GetTokenAsync(GitHubDouble.InstallationId);

        var authorization = Assert.Single(github.Requests("POST", TokenPath)).RequestMessage.Headers!["Authorization"].Single();
        Assert.StartsWith("Bearer ", authorization);
        var jwt = authorization["Bearer ".Length..];
        Assert.True(GitHubAppJwtTests.Verify(jwt, GitHubDouble.Key));
        var (_, claims) = GitHubAppJwtTests.Decode(jwt);
        Assert.Equal("1234", claims.GetProperty("iss").GetString());
        Assert.Equal(github.Time.GetUtcNow().ToUnixTimeSeconds() - 60, claims.GetProperty("iat").GetInt64());
    }

    [Fact]
    public async Task GetTokenAsync_NearExpiry_FetchesANewToken()
    {
        using var github = new GitHubDouble();
        var expiresAt = github.Time.GetUtcNow().AddHours(1);
        github.Server.Given(Request.Create().WithPath(TokenPath).UsingPost())
            .InScenario("tokens").WillSetStateTo("issued")
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json")
                .WithBody(GitHubDouble.TokenJson("ghs_first", expiresAt)));
        github.Server.Given(Request.Create().WithPath(TokenPath).UsingPost())
            .InScenario("tokens").WhenStateIs("issued")
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json")
                .WithBody(GitHubDouble.TokenJson("ghs_second", expiresAt.AddHours(1))));
        var tokens = github.Get<IInstallationTokenSource>();

        Assert.Equal("ghs_first", await tokens.GetTokenAsync(GitHubDouble.InstallationId));
        github.Time.SetUtcNow(expiresAt - TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        Assert.Equal("ghs_first", await tokens.GetTokenAsync(GitHubDouble.InstallationId));
        github.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("ghs_second", await tokens.GetTokenAsync(GitHubDouble.InstallationId));

        Assert.Equal(2, github.Requests("POST", TokenPath).Count);
    }

    [Fact]
    public async Task GetTokenAsync_ConcurrentCallers_OneRequest()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken("ghs_shared", delay: TimeSpan.FromMilliseconds(300));
        var tokens = github.Get<IInstallationTokenSource>();

        var results = await Task.WhenAll(Enumerable.Range(0, 16)
            .Select(_ => Task.Run(() => tokens.GetTokenAsync(GitHubDouble.InstallationId))));

        Assert.All(results, token => Assert.Equal("ghs_shared", token));
        Assert.Single(github.Requests("POST", TokenPath));
    }

    [Fact]
    public async Task GetTokenAsync_GitHubRejects_ThrowsAndNextCallRetries()
    {
        using var github = new GitHubDouble();
        github.Server.Given(Request.Create().WithPath(TokenPath).UsingPost())
            .InScenario("tokens").WillSetStateTo("recovered")
            .RespondWith(Response.Create().WithStatusCode(401).WithHeader("Content-Type", "application/json")
                .WithBody("""{"message":"A JSON web token could not be decoded"}"""));
        github.Server.Given(Request.Create().WithPath(TokenPath).UsingPost())
            .InScenario("tokens").WhenStateIs("recovered")
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json")
                .WithBody(GitHubDouble.TokenJson("ghs_after", github.Time.GetUtcNow().AddHours(1))));
        var tokens = github.Get<IInstallationTokenSource>();

        await Assert.ThrowsAsync<Octokit.AuthorizationException>(() => tokens.GetTokenAsync(GitHubDouble.InstallationId));
        Assert.Equal("ghs_after", await tokens.GetTokenAsync(GitHubDouble.InstallationId));
    }

    [Fact]
    public async Task GetTokenAsync_CallerCancels_OthersStillGetTheToken()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken("ghs_shared", delay: TimeSpan.FromMilliseconds(300));
        var tokens = github.Get<IInstallationTokenSource>();
        using var cancel = new CancellationTokenSource();

        var cancelled = tokens.GetTokenAsync(GitHubDouble.InstallationId, cancel.Token);
        var other = tokens.GetTokenAsync(GitHubDouble.InstallationId);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal("ghs_shared", await other);
        Assert.Single(github.Requests("POST", TokenPath));
    }

    [Fact]
    public async Task Invalidate_CachedToken_NextCallFetchesAgain()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();
        var tokens = github.Get<InstallationTokenProvider>();

        await tokens.GetTokenAsync(GitHubDouble.InstallationId);
        tokens.Invalidate(GitHubDouble.InstallationId);
        await tokens.GetTokenAsync(GitHubDouble.InstallationId);

        Assert.Equal(2, github.Requests("POST", TokenPath).Count);
    }
}
