using System.Net;
using System.Net.Http.Headers;
using Ensemble.App.GitHub;
using Ensemble.Jobs.GitHub;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Ensemble.Tests.GitHub;

public class RateLimitHandlerTests
{
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly GitHubRateLimitOptions Options = new();

    private static HttpResponseHeaders Headers(params (string Name, string Value)[] headers)
    {
        using var response = new HttpResponseMessage();
        foreach (var (name, value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        return response.Headers;
    }

    [Fact]
    public void RetryDelay_RetryAfterSeconds_WaitsThatLong()
    {
        var delay = RateLimitHandler.RetryDelay(HttpStatusCode.Forbidden, Headers(("Retry-After", "30")), "{}", Now, 0, Options);

        Assert.Equal(TimeSpan.FromSeconds(30), delay);
    }

    [Fact]
    public void RetryDelay_RetryAfterDate_WaitsUntilThen()
    {
        var delay = RateLimitHandler.RetryDelay(
            HttpStatusCode.TooManyRequests, Headers(("Retry-After", Now.AddSeconds(20).ToString("r"))), null, Now, 0, Options);

        Assert.Equal(TimeSpan.FromSeconds(20), delay);
    }

    [Fact]
    public void RetryDelay_RetryAfterBeyondMaxWait_GivesUp()
    {
        var delay = RateLimitHandler.RetryDelay(HttpStatusCode.Forbidden, Headers(("Retry-After", "3600")), "{}", Now, 0, Options);

        Assert.Null(delay);
    }

    [Fact]
    public void RetryDelay_PrimaryLimitExhausted_WaitsUntilReset()
    {
        var headers = Headers(("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", Now.AddSeconds(42).ToUnixTimeSeconds().ToString()));

        var delay = RateLimitHandler.RetryDelay(HttpStatusCode.Forbidden, headers, """{"message":"API rate limit exceeded"}""", Now, 0, Options);

        Assert.Equal(TimeSpan.FromSeconds(43), delay);
    }

    [Fact]
    public void RetryDelay_PrimaryResetAnHourAway_GivesUp()
    {
        var headers = Headers(("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", Now.AddHours(1).ToUnixTimeSeconds().ToString()));

        Assert.Null(RateLimitHandler.RetryDelay(HttpStatusCode.Forbidden, headers, "{}", Now, 0, Options));
    }

    [Theory]
    [InlineData(0, 60)]
    [InlineData(1, 120)]
    [InlineData(2, 240)]
    public void RetryDelay_SecondaryLimitWithoutRetryAfter_BacksOffFromOneMinute(int attempt, int seconds)
    {
        var body = """{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}""";

        var delay = RateLimitHandler.RetryDelay(HttpStatusCode.Forbidden, Headers(), body, Now, attempt, Options);

        Assert.Equal(TimeSpan.FromSeconds(seconds), delay);
    }

    [Theory]
    [InlineData(HttpStatusCode.Forbidden, """{"message":"Resource not accessible by integration"}""")]
    [InlineData(HttpStatusCode.NotFound, """{"message":"Not Found"}""")]
    [InlineData(HttpStatusCode.InternalServerError, "")]
    public void RetryDelay_NotARateLimit_NoRetry(HttpStatusCode status, string body)
    {
        Assert.Null(RateLimitHandler.RetryDelay(status, Headers(), body, Now, 0, Options));
    }

    [Fact]
    public async Task CreateCheckRun_SecondaryLimitWithRetryAfter_RetriesAfterTheWaitAndSucceeds()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();
        var path = "/repos/octo-org/infra/check-runs";
        github.Server.Given(Request.Create().WithPath(path).UsingPost())
            .InScenario("limit").WillSetStateTo("cooled")
            .RespondWith(Response.Create().WithStatusCode(403).WithHeader("Retry-After", "1")
                .WithHeader("Content-Type", "application/json")
                .WithBody("""{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation."}"""));
        github.Server.Given(Request.Create().WithPath(path).UsingPost())
            .InScenario("limit").WhenStateIs("cooled")
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody("""{"id":77}"""));

        var create = github.Get<IGitHubChecks>().CreateCheckRunAsync(GitHubDouble.Repo, OctokitChecksClientTests.Queued());
        var advanced = await AdvanceUntilDone(github, create, path);

        Assert.Equal(77, await create);
        Assert.True(advanced >= TimeSpan.FromSeconds(1), $"retried after {advanced} of the 1 s GitHub asked for");
        Assert.Equal(2, github.Requests("POST", path).Count);
    }

    [Fact]
    public async Task CreateCheckRun_LimitPersists_GivesUpAfterThreeRetries()
    {
        using var github = new GitHubDouble();
        github.StubInstallationToken();
        var path = "/repos/octo-org/infra/check-runs";
        github.Server.Given(Request.Create().WithPath(path).UsingPost())
            .RespondWith(Response.Create().WithStatusCode(403).WithHeader("Content-Type", "application/json")
                .WithBody("""{"message":"You have exceeded a secondary rate limit."}"""));

        var create = github.Get<IGitHubChecks>().CreateCheckRunAsync(GitHubDouble.Repo, OctokitChecksClientTests.Queued());
        var advanced = await AdvanceUntilDone(github, create, path);

        await Assert.ThrowsAsync<Octokit.SecondaryRateLimitExceededException>(() => create);
        Assert.Equal(4, github.Requests("POST", path).Count);
        // Configured first wait 200 ms, doubling: 200 + 400 + 800.
        Assert.True(advanced >= TimeSpan.FromMilliseconds(1400), $"gave up after waiting only {advanced}");
    }

    /// <summary>
    /// Once GitHub has answered the first attempt, moves the fake clock in small steps until the call finishes;
    /// returns how far it moved. Waiting for that first answer keeps warm-up time out of the measurement.
    /// </summary>
    private static async Task<TimeSpan> AdvanceUntilDone(GitHubDouble github, Task call, string path)
    {
        for (var i = 0; i < 1500 && github.Requests("POST", path).Count == 0 && !call.IsCompleted; i++)
        {
            await Task.Delay(20);
        }

        var step = TimeSpan.FromMilliseconds(100);
        var advanced = TimeSpan.Zero;
        for (var i = 0; i < 500 && !call.IsCompleted; i++)
        {
            await Task.Delay(20);
            if (call.IsCompleted)
            {
                break;
            }

            github.Time.Advance(step);
            advanced += step;
        }

        Assert.True(call.IsCompleted, "the call did not finish");
        return advanced;
    }
}
