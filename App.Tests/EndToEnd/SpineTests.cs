using System.Net;
using System.Security.Cryptography;
using Amazon.S3.Model;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;
using Ensemble.Tests.GitHub;
using Ensemble.Tests.Infrastructure;

namespace Ensemble.Tests.EndToEnd;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEndCollection
{
    // Hangfire keeps some process-wide state: hosts under test run one at a time.
    public const string Name = "EndToEnd";
}

/// <summary>The spine, end to end: signed webhook → discovery → plan jobs → check runs, on real parts.</summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class SpineTests(PostgresFixture postgres, S3Fixture s3) : IClassFixture<PostgresFixture>, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = Scenarios.Patience;
    private EnsembleTestApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await EnsembleTestApp.StartAsync(await postgres.CreateDatabaseAsync(), s3.ServiceUrl, s3.Bucket);

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task PullRequestOpened_TwoChangedProjects_OneCheckRunEachAndAnAggregateAwaitingApproval()
    {
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app);

        var response = await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head));
        Assert.True(response.IsSuccessStatusCode, $"webhook answered {(int)response.StatusCode}");

        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Patience, "both plans and the aggregate to complete");

        var runs = _app.GitHub.CheckRuns.Where(c => c.HeadSha == head).ToList();
        Assert.Equal(["ensemble", "ensemble: envs/dev", "ensemble: envs/prod"], runs.Select(r => r.Name).Distinct().Order());
        Assert.Single(runs, r => r.Name == "ensemble");

        var dev = _app.GitHub.Latest("ensemble: envs/dev", head)!;
        Assert.Equal("action_required", dev.Conclusion);
        Assert.Contains("sim_thing.dev_extra", dev.Summary + dev.Text, StringComparison.Ordinal);
        Assert.Contains("approve", dev.Actions);
        // A quick plan goes from queued straight to its result (live progress of slow plans: ProgressTests).
        Assert.Equal("queued", dev.History[0].Status);

        var prod = _app.GitHub.Latest("ensemble: envs/prod", head)!;
        Assert.Equal("action_required", prod.Conclusion);
        Assert.Contains("sim_thing.prod", prod.Summary + prod.Text, StringComparison.Ordinal);

        var aggregate = _app.GitHub.Latest("ensemble", head)!;
        Assert.Equal("action_required", aggregate.Conclusion);
        Assert.Contains("envs/dev", aggregate.Summary, StringComparison.Ordinal);
        Assert.Contains("envs/prod", aggregate.Summary, StringComparison.Ordinal);
        Assert.DoesNotContain("envs/staging", aggregate.Summary, StringComparison.Ordinal);

        Assert.Empty(_app.GitHub.Unexpected);
        OpenApiContract.AssertAllValid(_app.GitHub.Server);
    }

    [Fact]
    public async Task PlanArtifacts_StoredInS3_RoundTripByteForByte()
    {
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Patience, "plans to complete");

        var state = _app.Service<IStateStore>();
        var heads = await state.ListHeadsAsync(new RepoRef(EnsembleTestApp.InstallationId, repo.Owner, repo.Name), 7);
        var runs = await state.ListRunsAsync(heads.Single().Id);
        Assert.Equal(2, runs.Count);
        foreach (var run in runs)
        {
            var key = ArtifactKeys.For(new RepoRef(EnsembleTestApp.InstallationId, repo.Owner, repo.Name), 7, run.ProjectPath, head, "plan.tfplan");
            using var planObject = await s3.Client.GetObjectAsync(new GetObjectRequest { BucketName = s3.Bucket, Key = key });
            using var buffer = new MemoryStream();
            await planObject.ResponseStream.CopyToAsync(buffer);
            Assert.Equal(run.PlanSha256, Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray())));

            var jsonKey = ArtifactKeys.For(new RepoRef(EnsembleTestApp.InstallationId, repo.Owner, repo.Name), 7, run.ProjectPath, head, "plan.json");
            await using var json = await _app.Service<IArtifactStore>().OpenReadAsync(jsonKey);
            Assert.NotNull(json);
            using var doc = await System.Text.Json.JsonDocument.ParseAsync(json);
            Assert.True(doc.RootElement.TryGetProperty("resource_changes", out _));
            Assert.NotNull(run.Fingerprint);
        }
    }

    [Fact]
    public async Task FullPlanLink_InTheCheckRun_ServesThePlan_RefusesATamperedLink()
    {
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app, devExtra: "resource \"sim_sensitive\" \"token\" {\n  value = \"hunter2-sensitive-marker\"\n}\n");
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Patience, "plans to complete");

        var dev = _app.GitHub.Latest("ensemble: envs/dev", head)!;
        var link = System.Text.RegularExpressions.Regex.Match(dev.Summary + dev.Text, @"http://127\.0\.0\.1:\d+/plans/[A-Za-z0-9_\-\.]+").Value;
        Assert.False(string.IsNullOrEmpty(link), "the check run links to the full plan");

        var page = await _app.GetAsync(link);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("sim_thing.dev_extra", html, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-sensitive-marker", html, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-sensitive-marker", dev.Summary + dev.Text, StringComparison.Ordinal);

        var tampered = link[..^3] + (link[^3] == 'A' ? "B" : "A") + link[^2..];
        Assert.Equal(HttpStatusCode.Forbidden, (await _app.GetAsync(tampered)).StatusCode);
    }

    /// <summary>
    /// A plan sees the project, its modules and the files it reads by a plain path — not the rest of the monorepo. A file
    /// read by a computed path is missing until <c>extra_paths</c> lists it, and the failure says so.
    /// </summary>
    [Fact]
    public async Task Plan_ChecksOutOnlyTheProjectsInputs_ExtraPathsAddFilesReadByComputedPaths()
    {
        var app = $$"""
            terraform {
              backend "local" {
                path = "terraform.tfstate"
              }
            }

            variable "env" {
              default = "prod"
            }

            module "net" {
              source = "../../modules/net"
            }

            resource "sim_thing" "motd" {
              name = file("config/motd.txt")
            }

            resource "sim_thing" "policy" {
              name = file("../../shared/${var.env}.txt")
            }
            """;
        var repo = _app.CreateRepository();
        repo.Write("envs/other/main.tf", Scenarios.Project("other")).Write("modules/net/main.tf", "resource \"sim_thing\" \"net\" {\n  name = \"net\"\n}\n")
            .Write("envs/app/config/motd.txt", "hello").Write("shared/prod.txt", "policy-from-shared").Write("shared/dev.txt", "dev");
        var @base = repo.Commit("base");
        repo.Checkout("feature", create: true);
        var head = repo.Write("envs/app/main.tf", app).Commit("the app project");
        repo.SetPullRef(9, head);

        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 9, @base, head));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 1), Patience, "the app plan");

        var failed = _app.GitHub.Latest("ensemble: envs/app", head)!;
        Assert.Equal("failure", failed.Conclusion);
        Assert.Contains("no file exists at \"../../shared/prod.txt\"", failed.Summary, StringComparison.Ordinal);
        Assert.Contains("`extra_paths` in `.ensemble.yml`", failed.Summary, StringComparison.Ordinal);

        var fixedHead = repo.Write(".ensemble.yml", "version: 1\nprojects:\n  - path: envs/app\n    extra_paths: [\"shared/*.txt\"]\n").Commit("extra_paths");
        repo.SetPullRef(9, fixedHead);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("synchronize", repo, 9, @base, fixedHead));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, fixedHead, 1), Patience, "the app plan with extra_paths");

        var planned = _app.GitHub.Latest("ensemble: envs/app", fixedHead)!;
        Assert.Equal("action_required", planned.Conclusion);
        Assert.Contains("policy-from-shared", planned.Summary + planned.Text, StringComparison.Ordinal);
        Assert.Contains("hello", planned.Summary + planned.Text, StringComparison.Ordinal); // read inside the project
        Assert.Contains("module.net.sim_thing.net", planned.Summary + planned.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PullRequest_NoTerraformChange_AggregateSucceedsWithNothingToPlan()
    {
        var repo = _app.CreateRepository();
        repo.Write("envs/dev/main.tf", Scenarios.Project("dev")).Write("docs/guide.md", "hello\n");
        var @base = repo.Commit("base");
        repo.Checkout("docs", create: true);
        repo.Write("docs/guide.md", "hello again\n");
        var head = repo.Commit("docs only");
        repo.SetPullRef(8, head);

        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 8, @base, head));
        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble", head) is { Status: "completed" }, Patience, "the aggregate");

        var aggregate = _app.GitHub.Latest("ensemble", head)!;
        Assert.Equal("success", aggregate.Conclusion);
        Assert.Equal("No Terraform projects changed", aggregate.Title);
        Assert.DoesNotContain(_app.GitHub.CheckRuns, c => c.Name.StartsWith("ensemble: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Webhook_ForgedOrMissingSignature_401AndNothingRecorded()
    {
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app);
        var body = EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head);

        var forged = await _app.SendWebhookAsync("pull_request", body, signature: EnsembleTestApp.Sign(body, "not the secret"));
        var missing = await _app.SendWebhookAsync("pull_request", body, signature: "");
        var tampered = await _app.SendWebhookAsync("pull_request", body.Replace("feature", "featurf", StringComparison.Ordinal),
            signature: EnsembleTestApp.Sign(body, EnsembleTestApp.WebhookSecret));

        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);
        Assert.Equal(0, await _app.Service<IStateStore>().CountDeliveriesAsync());
        await Task.Delay(500);
        Assert.Empty(_app.GitHub.CheckRuns);
    }

    [Fact]
    public async Task Webhook_SameDeliveryTwice_OneSetOfPlans()
    {
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app);
        var body = EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head);
        var delivery = Guid.NewGuid().ToString();

        var first = await _app.SendWebhookAsync("pull_request", body, delivery);
        var second = await _app.SendWebhookAsync("pull_request", body, delivery);
        Assert.True(first.IsSuccessStatusCode);
        Assert.True(second.IsSuccessStatusCode, "a redelivery is acknowledged");

        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Patience, "plans to complete");
        await Task.Delay(1000);
        Assert.Equal(1, await _app.Service<IStateStore>().CountDeliveriesAsync());
        Assert.Equal(3, _app.GitHub.CheckRuns.Count(c => c.HeadSha == head));
    }

    [Fact]
    public async Task Plan_TerraformFails_CheckRunShowsErrorAndWhatToDo_AggregateFails()
    {
        var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app, devExtra: "resource \"sim_fail\" \"broken\" {\n  message = \"Invalid provider configuration\"\n}\n");
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head));
        await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Patience, "plans to complete");

        var dev = _app.GitHub.Latest("ensemble: envs/dev", head)!;
        Assert.Equal("failure", dev.Conclusion);
        var shown = dev.Title + dev.Summary + dev.Text;
        Assert.Contains("Invalid provider configuration", shown, StringComparison.Ordinal);
        Assert.Contains("/ensemble replan envs/dev", shown, StringComparison.Ordinal);
        Assert.Contains("plan", dev.Title ?? "", StringComparison.OrdinalIgnoreCase);

        Assert.Contains(dev.Annotations, a => a.StartsWith("envs/dev/main.tf:", StringComparison.Ordinal));

        Assert.Equal("action_required", _app.GitHub.Latest("ensemble: envs/prod", head)!.Conclusion);
        var aggregate = _app.GitHub.Latest("ensemble", head)!;
        Assert.Equal("failure", aggregate.Conclusion);
        Assert.Contains("envs/dev", aggregate.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plan_TerraformEnvironment_HasNoneOfTheAppsSecrets()
    {
        // The App's own configuration arrives through the environment in production (GitHub__WebhookSecret etc.).
        Environment.SetEnvironmentVariable("GitHub__WebhookSecret", "leaked-webhook-secret-value");
        try
        {
            var probe = "resource \"sim_probe\" \"env\" {\n  env = \"GitHub__WebhookSecret\"\n}\n";
            var (repo, @base, head) = Scenarios.TwoProjectPullRequest(_app, devExtra: probe);
            await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, 7, @base, head));
            await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, 2), Patience, "plans to complete");

            var dev = _app.GitHub.Latest("ensemble: envs/dev", head)!;
            Assert.Contains("sim_probe.env", dev.Summary + dev.Text, StringComparison.Ordinal);
            Assert.Contains("(unset)", dev.Summary + dev.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("leaked-webhook-secret-value", dev.Summary + dev.Text, StringComparison.Ordinal);
            Assert.DoesNotContain(_app.GitHub.CheckRuns.SelectMany(c => c.History), h => (h.Summary + h.Text).Contains("leaked-webhook-secret-value", StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable("GitHub__WebhookSecret", null);
        }
    }
}
