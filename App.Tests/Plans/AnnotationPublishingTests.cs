using System.Text.Json;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.GitHub;
using Ensemble.Jobs.Plans;
using Ensemble.Tests.GitHub;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Ensemble.Tests.Plans;

/// <summary>A failed plan's diagnostics reach GitHub as annotations on the PR's lines, at most 50 per request.</summary>
public class AnnotationPublishingTests
{
    private const string RunsPath = "/repos/octo-org/infra/check-runs";

    private static GitHubDouble WithCheckRuns()
    {
        var github = new GitHubDouble();
        github.StubInstallationToken();
        github.Server.Given(Request.Create().WithPath(RunsPath + "/4242").UsingPatch())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("""{"id":4242}"""));
        return github;
    }

    private static CheckRunRequest Failed(IReadOnlyList<CheckRunAnnotation> annotations) => new()
    {
        Name = "ensemble: envs/prod",
        HeadSha = "6dcb09b5b57875f334f61aebed695e2e4193db5e",
        Status = CheckStatus.Completed,
        Conclusion = CheckConclusion.Failure,
        Output = PlanRenderer.RenderFailure("envs/prod", "plan", "Error: Unsupported argument\n\n  on main.tf line 7:\n", "/ensemble replan envs/prod"),
        Annotations = annotations,
    };

    private static JsonElement Output(GitHubDouble github) =>
        JsonDocument.Parse(Assert.Single(github.Requests("PATCH", RunsPath + "/4242")).RequestMessage.Body!).RootElement.GetProperty("output");

    [Fact]
    public async Task UpdateCheckRunAsync_Annotations_SentOnTheirLines()
    {
        using var github = WithCheckRuns();
        var annotations = TerraformDiagnostics.ToAnnotations(
            TerraformDiagnostics.Parse("Error: Unsupported argument\n\n  on main.tf line 7, in resource \"a\" \"b\":\n   7:   foo = 1\n\nNo argument \"foo\" here.\n"), "envs/prod");

        await github.Get<IGitHubChecks>().UpdateCheckRunAsync(GitHubDouble.Repo, 4242, Failed(annotations));

        var sent = Assert.Single(Output(github).GetProperty("annotations").EnumerateArray());
        Assert.Equal("envs/prod/main.tf", sent.GetProperty("path").GetString());
        Assert.Equal(7, sent.GetProperty("start_line").GetInt32());
        Assert.Equal(7, sent.GetProperty("end_line").GetInt32());
        Assert.Equal("failure", sent.GetProperty("annotation_level").GetString());
        Assert.Equal("Unsupported argument", sent.GetProperty("title").GetString());
        Assert.Equal("No argument \"foo\" here.", sent.GetProperty("message").GetString());
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task UpdateCheckRunAsync_SixtyAnnotations_SendsFiftyAndSaysSo()
    {
        using var github = WithCheckRuns();
        var annotations = Enumerable.Range(1, 60).Select(i => new CheckRunAnnotation("main.tf", i, i, CheckRunAnnotation.Warning, $"W{i}", "deprecated")).ToList();

        await github.Get<IGitHubChecks>().UpdateCheckRunAsync(GitHubDouble.Repo, 4242, Failed(annotations));

        var output = Output(github);
        var sent = output.GetProperty("annotations").EnumerateArray().ToList();
        Assert.Equal(50, sent.Count);
        Assert.Equal("W1", sent[0].GetProperty("title").GetString());
        Assert.Equal("W50", sent[^1].GetProperty("title").GetString());
        Assert.EndsWith("_10 more annotations not shown on the diff: GitHub takes at most 50 per update._", output.GetProperty("summary").GetString(), StringComparison.Ordinal);
        OpenApiContract.AssertAllValid(github.Server);
    }

    [Fact]
    public async Task UpdateCheckRunAsync_NoAnnotations_SendsNoAnnotationsField()
    {
        using var github = WithCheckRuns();

        await github.Get<IGitHubChecks>().UpdateCheckRunAsync(GitHubDouble.Repo, 4242, Failed([]));

        Assert.False(Output(github).TryGetProperty("annotations", out _));
    }
}
