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

    private static string Push(string fixture, Action<System.Text.Json.Nodes.JsonObject> change)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(Fixture(fixture))!.AsObject();
        change(json);
        return json.ToJsonString();
    }

    [Fact]
    public void Parse_PushUpdatingTheDefaultBranch_MovesItFromBeforeToAfter()
    {
        var payload = Push("push/with-new-branch.json", p =>
        {
            p["before"] = "1111111111111111111111111111111111111111";
            p["created"] = false;
        });

        var push = Assert.IsType<PushEvent>(WebhookEventParser.Parse("push", payload));

        Assert.Equal("refs/heads/master", push.Ref);
        Assert.Equal("master", push.Branch);
        Assert.Equal("master", push.DefaultBranch);
        Assert.Equal("1111111111111111111111111111111111111111", push.Before);
        Assert.Equal("6113728f27ae82c7b1a177c8d03f9e96e0adf246", push.After);
        Assert.Equal(new Ensemble.Jobs.Core.RepoRef(1, "Codertocat", "Hello-World"), push.Repo);
        Assert.True(push.MovesDefaultBranch);
    }

    [Fact]
    public void Parse_PushCreatingTheBranch_DoesNotMoveIt()
    {
        // GitHub's example: before is the zero SHA, created is true.
        var push = Assert.IsType<PushEvent>(WebhookEventParser.Parse("push", Fixture("push/with-new-branch.json")));

        Assert.True(push.Created);
        Assert.False(push.MovesDefaultBranch);
    }

    [Fact]
    public void Parse_PushToAnotherBranch_DoesNotMoveTheDefaultBranch()
    {
        var payload = Push("push/with-new-branch.json", p =>
        {
            p["ref"] = "refs/heads/feature";
            p["before"] = "1111111111111111111111111111111111111111";
            p["created"] = false;
        });

        var push = Assert.IsType<PushEvent>(WebhookEventParser.Parse("push", payload));

        Assert.Equal("feature", push.Branch);
        Assert.False(push.MovesDefaultBranch);
    }

    [Fact]
    public void Parse_TagDeleted_NoBranchAndNotAMove()
    {
        var push = Assert.IsType<PushEvent>(WebhookEventParser.Parse("push", Fixture("push/with-installation.json")));

        Assert.Null(push.Branch);
        Assert.True(push.Deleted);
        Assert.Equal(PushEvent.ZeroSha, push.After);
        Assert.False(push.MovesDefaultBranch);
    }

    [Fact]
    public void Parse_PushFromARepositoryWebhook_IgnoredWithReason()
    {
        var ignored = Assert.IsType<IgnoredEvent>(WebhookEventParser.Parse("push", Fixture("push/push.json")));

        Assert.Contains("installation", ignored.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PushWithoutAfter_IgnoredWithReason()
    {
        var payload = Push("push/with-new-branch.json", p => p.Remove("after"));

        var ignored = Assert.IsType<IgnoredEvent>(WebhookEventParser.Parse("push", payload));

        Assert.Contains("after", ignored.Reason, StringComparison.Ordinal);
    }
}
