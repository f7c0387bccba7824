using Ensemble.Jobs.Events;

namespace Ensemble.Tests.Events;

public sealed class WebhookEventParserTests
{
    private static string Fixture(string path) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "webhooks", path));

    [Fact]
    public void Parse_RealSynchronizeFromAnApp_PullRequestWithHeadAndBase()
    {
        var parsed = WebhookEventParser.Parse("pull_request", Fixture("pull_request/synchronize.octocrab.json"));

        var pr = Assert.IsType<PullRequestEvent>(parsed);
        Assert.Equal("synchronize", pr.Action);
        Assert.Matches("^[0-9a-f]{40}$", pr.HeadSha);
        Assert.Matches("^[0-9a-f]{40}$", pr.BaseSha);
        Assert.NotEqual(0, pr.Repo.InstallationId);
        Assert.False(string.IsNullOrEmpty(pr.Author));
    }

    [Fact]
    public void Parse_PayloadWithoutInstallation_IgnoredWithReason()
    {
        // Atlantis' captured payloads come from a repository webhook, not an App installation.
        var parsed = WebhookEventParser.Parse("pull_request", Fixture("pull_request/closed.atlantis.json"));

        var ignored = Assert.IsType<IgnoredEvent>(parsed);
        Assert.Contains("installation", ignored.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ClosedWithoutMerge_NotMerged()
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(Fixture("pull_request/closed.json"))!;
        json["installation"] = new System.Text.Json.Nodes.JsonObject { ["id"] = 1 };

        var pr = Assert.IsType<PullRequestEvent>(WebhookEventParser.Parse("pull_request", json.ToJsonString()));

        Assert.Equal("closed", pr.Action);
        Assert.False(pr.Merged);
    }

    [Fact]
    public void Parse_Ping_Ignored()
    {
        Assert.IsType<IgnoredEvent>(WebhookEventParser.Parse("ping", Fixture("ping/with-app_id.json")));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"action\":")]
    public void Parse_BrokenPayload_IgnoredNotThrown(string payload)
    {
        Assert.IsType<IgnoredEvent>(WebhookEventParser.Parse("pull_request", payload));
    }
}
