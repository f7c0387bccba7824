using Xunit.Sdk;

namespace Ensemble.Tests.GitHub;

public class OpenApiContractTests
{
    private const string CheckRuns = "/repos/octo-org/infra/check-runs";

    [Fact]
    public void AssertValid_ConformingCreate_Passes()
    {
        OpenApiContract.AssertValid("POST", CheckRuns,
            """{"name":"ensemble","head_sha":"abc","status":"completed","conclusion":"success","output":{"title":"t","summary":"s"},"actions":[{"identifier":"approve","label":"Approve","description":"d"}]}""");
    }

    [Theory]
    [InlineData("""{"name":"ensemble","head_sha":"abc","status":"bogus"}""", "$.status")]
    [InlineData("""{"name":"ensemble","status":"queued"}""", "'head_sha' is missing")]
    [InlineData("""{"name":"ensemble","head_sha":"abc","status":"completed"}""", "oneOf")]
    [InlineData("""{"name":"ensemble","head_sha":7}""", "$.head_sha: expected string")]
    [InlineData("""{"name":"ensemble","head_sha":"abc","output":{"title":"t"}}""", "'summary' is missing")]
    [InlineData("""{"name":"ensemble","head_sha":"abc","started_at":"yesterday"}""", "date-time")]
    [InlineData("""{"name":"e","head_sha":"a","actions":[{"identifier":"a","label":"b","description":"c"},{"identifier":"a","label":"b","description":"c"},{"identifier":"a","label":"b","description":"c"},{"identifier":"a","label":"b","description":"c"}]}""", "at most 3")]
    [InlineData("""{"name":"e","head_sha":"a","actions":[{"identifier":"identifier-too-long-21","label":"b","description":"c"}]}""", "$.actions[0].identifier")]
    public void Validate_WrongCreateBody_ReportsTheProblem(string body, string expected)
    {
        var errors = OpenApiContract.Validate("POST", CheckRuns, body);

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void AssertValid_WrongBody_FailsTheTest()
    {
        Assert.Throws<TrueException>(() => OpenApiContract.AssertValid("POST", CheckRuns, """{"name":"ensemble","head_sha":"abc","status":"bogus"}"""));
    }

    [Fact]
    public void Validate_UpdateCompletedWithoutConclusion_Fails()
    {
        var errors = OpenApiContract.Validate("PATCH", CheckRuns + "/12", """{"status":"completed"}""");

        Assert.Contains(errors, e => e.Contains("anyOf", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NonIntegerPathParameter_Fails()
    {
        var errors = OpenApiContract.Validate("PATCH", CheckRuns + "/abc", """{"status":"queued"}""");

        Assert.Contains("path parameter check_run_id must be an integer, got 'abc'", errors);
    }

    [Fact]
    public void Validate_UndescribedOperation_Fails()
    {
        var errors = OpenApiContract.Validate("DELETE", CheckRuns + "/12", null);

        Assert.Equal(["no operation DELETE matches the path /repos/octo-org/infra/check-runs/12"], errors);
    }

    [Fact]
    public void Validate_ReactionWithRefEnum_ChecksTheValue()
    {
        Assert.Empty(OpenApiContract.Validate("POST", "/repos/o/r/issues/comments/5/reactions", """{"content":"eyes"}"""));
        Assert.NotEmpty(OpenApiContract.Validate("POST", "/repos/o/r/issues/comments/5/reactions", """{"content":"thumbsup"}"""));
    }

    [Fact]
    public void Validate_TokenRequestPermissionsViaRef_ChecksNestedEnum()
    {
        Assert.Empty(OpenApiContract.Validate("POST", "/app/installations/1/access_tokens", """{"permissions":{"checks":"write"}}"""));
        Assert.NotEmpty(OpenApiContract.Validate("POST", "/app/installations/1/access_tokens", """{"permissions":{"checks":"everything"}}"""));
    }

    [Fact]
    public void Validate_CommentWithoutBody_Fails()
    {
        var errors = OpenApiContract.Validate("POST", "/repos/o/r/issues/7/comments", "{}");

        Assert.Contains("$: required property 'body' is missing", errors);
    }
}

public sealed class OpenApiContractServerTests : IDisposable
{
    private readonly WireMock.Server.WireMockServer _server = WireMock.Server.WireMockServer.Start();

    [Fact]
    public async Task AssertAllValid_RecordedWrongBody_FailsAndListsUndescribed()
    {
        using var http = new HttpClient();
        using var bogus = new StringContent("""{"name":"ensemble","head_sha":"abc","status":"bogus"}""", System.Text.Encoding.UTF8, "application/json");
        await http.PostAsync(_server.Url + "/repos/o/r/check-runs", bogus);
        await http.GetAsync(_server.Url + "/rate_limit");
        var undescribed = new List<string>();

        var failure = Assert.Throws<TrueException>(() => OpenApiContract.AssertAllValid(_server, undescribed.Add));

        Assert.Contains("POST /repos/o/r/check-runs: $.status", failure.Message);
        Assert.Equal(["not described in the API subset: GET /rate_limit"], undescribed);
    }

    [Fact]
    public async Task AssertAllValid_OnlyUndescribedRequests_Passes()
    {
        using var http = new HttpClient();
        await http.GetAsync(_server.Url + "/rate_limit");

        OpenApiContract.AssertAllValid(_server);
    }

    public void Dispose() => _server.Dispose();
}
