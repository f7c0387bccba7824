using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using Amazon.S3.Model;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Core.Approvals;
using Ensemble.Jobs.Jobs;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Ensemble.Tests.EndToEnd;

/// <summary>Apply after merge, end to end: approve → merge → verify → terraform apply → check runs and one comment.</summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class ApplyTests(PostgresFixture postgres, S3Fixture s3, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private const int Number = 12;
    private const string Approver = "bob";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private readonly OutsideStates _states = new();
    private EnsembleTestApp _app = null!;

    public async Task InitializeAsync()
    {
        // The stand-in's state lives outside the workspaces (OutsideStates), so the process runner: these tests are
        // about apply, not isolation.
        _app = await EnsembleTestApp.StartAsync(await postgres.CreateDatabaseAsync(), s3.ServiceUrl, s3.Bucket,
            new Dictionary<string, string?> { ["Terraform:Runner"] = "process" });
        _app.GitHub.Permissions[Approver] = "write";
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _states.Dispose();
    }

    private string StateFile(string project) => _states.File(project);

    private string Project(string path, string body) => _states.Project(path, body);

    private static string Thing(string name) => OutsideStates.Thing(name);

    private sealed record Pr(TestRepository Repo, string Base, string Head)
    {
        public RepoRef Ref => new(EnsembleTestApp.InstallationId, Repo.Owner, Repo.Name);
    }

    /// <summary>main has envs/dev and envs/prod; the PR adds a resource to envs/dev. Opened and planned.</summary>
    private async Task<Pr> OpenPlannedPullRequestAsync()
    {
        var repo = _app.CreateRepository();
        repo.Write("envs/dev/main.tf", Project("envs/dev", Thing("dev")))
            .Write("envs/prod/main.tf", Project("envs/prod", Thing("prod")));
        var @base = repo.Commit("two projects");
        repo.Checkout("feature", create: true);
        repo.Write("envs/dev/main.tf", Project("envs/dev", Thing("dev") + Thing("dev_extra")));
        var head = repo.Commit("grow dev");
        repo.SetPullRef(Number, head);

        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, Number, @base, head));
        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble: envs/dev", head) is { Conclusion: "action_required" }, Patience, "the dev plan");
        return new Pr(repo, @base, head);
    }

    private async Task ApproveAsync(Pr pr, string project)
    {
        var checkRun = _app.GitHub.Latest(AggregateStatus.ProjectCheckName(project), pr.Head)!;
        await _app.SendWebhookAsync("check_run", RequestedActionPayload(pr.Repo, checkRun, "approve", Approver));
        await _app.GitHub.WaitUntilAsync(g => g.Latest(checkRun.Name, pr.Head) is { Conclusion: "success" }, Patience, $"approval of {project}");
    }

    private static string RequestedActionPayload(TestRepository repo, CheckRunView checkRun, string identifier, string sender)
    {
        var payload = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "webhooks", "check_run", "requested_action.json")))!.AsObject();
        payload["installation"] = new JsonObject { ["id"] = EnsembleTestApp.InstallationId };
        var repository = payload["repository"]!.AsObject();
        repository["name"] = repo.Name;
        repository["full_name"] = repo.FullName;
        repository["owner"]!["login"] = repo.Owner;
        var run = payload["check_run"]!.AsObject();
        run["id"] = checkRun.Id;
        run["name"] = checkRun.Name;
        run["head_sha"] = checkRun.HeadSha;
        run["external_id"] = checkRun.ExternalId;
        payload["requested_action"] = new JsonObject { ["identifier"] = identifier };
        payload["sender"]!["login"] = sender;
        return payload.ToJsonString();
    }

    /// <summary>Merges the feature branch into main like GitHub's merge button and returns the merge commit.</summary>
    private static string Merge(Pr pr)
    {
        pr.Repo.Checkout("main");
        pr.Repo.Git("merge", "-q", "--no-ff", "-m", $"Merge pull request #{Number}", "feature");
        return pr.Repo.Head();
    }

    private static string ClosedPayload(Pr pr, bool merged, string? mergeSha)
    {
        var payload = JsonNode.Parse(EnsembleTestApp.PullRequestPayload("closed", pr.Repo, Number, pr.Base, pr.Head, merged: merged))!.AsObject();
        payload["pull_request"]!["merge_commit_sha"] = mergeSha;
        return payload.ToJsonString();
    }

    private async Task<CheckRunView> MergeAndWaitForApplyAsync(Pr pr, string project = "envs/dev")
    {
        var mergeSha = Merge(pr);
        var response = await _app.SendWebhookAsync("pull_request", ClosedPayload(pr, merged: true, mergeSha));
        Assert.True(response.IsSuccessStatusCode);
        return await WaitForApplyCheckRunAsync(mergeSha, project);
    }

    /// <summary>The apply's check run on the merge commit (not a post-merge plan's), once completed.</summary>
    private async Task<CheckRunView> WaitForApplyCheckRunAsync(string mergeSha, string project = "envs/dev")
    {
        var name = AggregateStatus.ProjectCheckName(project);
        CheckRunView? Find(FakeGitHub g) =>
            g.CheckRuns.FirstOrDefault(c => c.Name == name && c.HeadSha == mergeSha && c.ExternalId?.StartsWith("apply-", StringComparison.Ordinal) == true);
        await _app.GitHub.WaitUntilAsync(g => Find(g) is { Status: "completed" }, Patience, $"the apply of {project} on the merge commit");
        return Find(_app.GitHub)!;
    }

    private async Task<ProjectRun> RunAsync(Pr pr, string project)
    {
        var state = _app.Service<IStateStore>();
        var head = (await state.ListHeadsAsync(pr.Ref, Number)).Single(h => h.HeadSha == pr.Head);
        return (await state.ListRunsAsync(head.Id)).Single(r => r.ProjectPath == project);
    }

    private JsonObject? ReadState(string project) =>
        File.Exists(StateFile(project)) ? JsonNode.Parse(File.ReadAllText(StateFile(project)))!.AsObject() : null;

    private async Task WaitForCommentAsync(string contains) =>
        await _app.GitHub.WaitUntilAsync(g => g.Comments.Any(c => c.Body.Contains(contains, StringComparison.Ordinal)), Patience, $"a comment with '{contains}'");

    [Fact]
    public async Task Merge_ApprovedPlan_AppliedOnceAndShownOnBothCheckRunsAndOneComment()
    {
        var pr = await OpenPlannedPullRequestAsync();
        await ApproveAsync(pr, "envs/dev");

        var applied = await MergeAndWaitForApplyAsync(pr);

        Assert.Equal("success", applied.Conclusion);
        Assert.Contains("Applied", applied.Title, StringComparison.Ordinal);
        Assert.Contains("Apply complete! Resources: 2 added", applied.Text, StringComparison.Ordinal);

        var state = ReadState("envs/dev");
        Assert.NotNull(state);
        Assert.Equal(1, state["serial"]!.GetValue<long>());
        var names = state["resources"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(["dev", "dev_extra"], names);
        Assert.Null(ReadState("envs/prod"));

        // The comment is the last thing an apply updates.
        await WaitForCommentAsync("✅ applied");
        var prCheckRun = _app.GitHub.Latest("ensemble: envs/dev", pr.Head)!;
        Assert.Equal("success", prCheckRun.Conclusion);
        Assert.StartsWith("Applied at ", prCheckRun.Title, StringComparison.Ordinal);
        Assert.Contains($"by merge of #{Number}", prCheckRun.Title, StringComparison.Ordinal);

        var comment = Assert.Single(_app.GitHub.Comments);
        Assert.Equal(Number, comment.IssueNumber);
        Assert.Contains("`envs/dev`", comment.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("envs/prod", comment.Body, StringComparison.Ordinal);
        Assert.True(comment.Edits >= 1, "the comment is created once and updated in place");

        var run = await RunAsync(pr, "envs/dev");
        Assert.Equal(RunStatus.Applied, run.Status);
        var log = await _app.Service<IArtifactStore>().OpenReadAsync(ArtifactKeys.For(pr.Ref, Number, "envs/dev", pr.Head, ArtifactKeys.ApplyLog));
        Assert.NotNull(log);
        using (var reader = new StreamReader(log))
        {
            Assert.Contains("terraform apply -input=false -no-color", await reader.ReadToEndAsync(), StringComparison.Ordinal);
        }

        Assert.Empty(_app.GitHub.Unexpected);
        Ensemble.Tests.GitHub.OpenApiContract.AssertAllValid(_app.GitHub.Server);
    }

    [Fact]
    public async Task Merge_SlowApply_ProgressShownOnTheMergeCommitBeforeTheResult()
    {
        var repo = _app.CreateRepository();
        repo.Write("envs/dev/main.tf", Project("envs/dev", Thing("dev")));
        var @base = repo.Commit("one project");
        repo.Checkout("feature", create: true);
        repo.Write("envs/dev/main.tf", Project("envs/dev", Thing("dev") + "resource \"sim_slow\" \"wait\" {\n  apply_seconds = 12\n}\n"));
        var pr = new Pr(repo, @base, repo.Commit("a slow create"));
        repo.SetPullRef(Number, pr.Head);
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, Number, pr.Base, pr.Head));
        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble: envs/dev", pr.Head) is { Conclusion: "action_required" }, Patience, "the plan");
        await ApproveAsync(pr, "envs/dev");

        var mergeSha = Merge(pr);
        await _app.SendWebhookAsync("pull_request", ClosedPayload(pr, merged: true, mergeSha));

        await _app.GitHub.WaitUntilAsync(g => g.Latest("ensemble: envs/dev", mergeSha) is { Status: "in_progress" } c
            && (c.Text ?? "").Contains("Still creating...", StringComparison.Ordinal), Patience, "apply progress on the merge commit");
        var running = _app.GitHub.Latest("ensemble: envs/dev", mergeSha)!;
        Assert.Contains("terraform apply", running.Title, StringComparison.Ordinal);
        Assert.Equal("success", (await WaitForApplyCheckRunAsync(mergeSha)).Conclusion);
    }

    [Fact]
    public async Task Merge_WebhookDeliveredTwiceAndJobRunAgain_AppliedExactlyOnce()
    {
        var pr = await OpenPlannedPullRequestAsync();
        await ApproveAsync(pr, "envs/dev");
        var mergeSha = Merge(pr);
        var body = ClosedPayload(pr, merged: true, mergeSha);

        // GitHub may send the same event twice under different delivery ids; both are recorded and processed.
        var first = _app.SendWebhookAsync("pull_request", body, Guid.NewGuid().ToString());
        var second = _app.SendWebhookAsync("pull_request", body, Guid.NewGuid().ToString());
        await Task.WhenAll(first, second);
        await WaitForApplyCheckRunAsync(mergeSha);

        // A retried job, and two workers at once, after the apply: nothing more happens.
        var run = await RunAsync(pr, "envs/dev");
        await Task.WhenAll(
            _app.Service<ApplyJob>().RunAsync(run.Id, null, CancellationToken.None),
            _app.Service<ApplyJob>().RunAsync(run.Id, null, CancellationToken.None));
        await WaitForCommentAsync("✅ applied");
        await Task.Delay(1500);

        Assert.Equal(1, ReadState("envs/dev")!["serial"]!.GetValue<long>());
        Assert.Single(_app.GitHub.CheckRuns, c => c.HeadSha == mergeSha);
        Assert.Single(_app.GitHub.Comments);
        Assert.Equal(4, await _app.Service<IStateStore>().CountDeliveriesAsync()); // opened, approve, and both closed deliveries
        Assert.Equal(RunStatus.Applied, (await RunAsync(pr, "envs/dev")).Status);
    }

    [Fact]
    public async Task ApplyJob_DeliveredAgainAfterItsWorkerDied_ReportedInterruptedNeverReRun()
    {
        var pr = await OpenPlannedPullRequestAsync();
        await ApproveAsync(pr, "envs/dev");
        var state = _app.Service<IStateStore>();
        var run = await RunAsync(pr, "envs/dev");
        var merge = await state.RecordMergeAsync(run.HeadId, new string('e', 40), DateTimeOffset.UtcNow);
        // Job 77 took the run and its worker died before terraform finished.
        Assert.True(await state.StartApplyAsync(run.Id, merge.Id, "hangfire-77", RunStateMachine.SourcesOf(new RunEvent.ApplyStarted()), DateTimeOffset.UtcNow));

        // Another job (a duplicate) leaves the running apply alone.
        await _app.Service<ApplyJob>().RunAsync(run.Id, Context("78"), CancellationToken.None);
        Assert.Equal(RunStatus.Applying, (await RunAsync(pr, "envs/dev")).Status);

        // Job 77 delivered again by Hangfire: reported, not re-run.
        await _app.Service<ApplyJob>().RunAsync(run.Id, Context("77"), CancellationToken.None);

        var after = await RunAsync(pr, "envs/dev");
        Assert.Equal(RunStatus.ApplyFailed, after.Status);
        Assert.Equal(ApplyOutcome.Interrupted, (await state.GetApplyAsync(run.Id))!.Outcome);
        Assert.Null(ReadState("envs/dev"));
        var shown = _app.GitHub.Latest("ensemble: envs/dev", merge.MergeSha)!;
        Assert.Equal("failure", shown.Conclusion);
        Assert.Contains("interrupted", shown.Title, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("never re-runs an apply", shown.Summary, StringComparison.Ordinal);
        Assert.Contains("interrupted", Assert.Single(_app.GitHub.Comments).Body, StringComparison.Ordinal);
    }

    private Hangfire.Server.PerformContext Context(string jobId)
    {
        var storage = _app.Service<Hangfire.JobStorage>();
        var job = new Hangfire.BackgroundJob(jobId, Hangfire.Common.Job.FromExpression<ApplyJob>(j => j.RunAsync(0, null, CancellationToken.None)), DateTime.UtcNow);
        return new Hangfire.Server.PerformContext(storage, storage.GetConnection(), job, new Hangfire.JobCancellationToken(false));
    }

    [Fact]
    public async Task Merge_ArtifactAlteredInTheBucket_RefusedAndShownNothingApplied()
    {
        var pr = await OpenPlannedPullRequestAsync();
        await ApproveAsync(pr, "envs/dev");
        await s3.Client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = s3.Bucket,
            Key = ArtifactKeys.For(pr.Ref, Number, "envs/dev", pr.Head, ArtifactKeys.PlanFile),
            ContentBody = "not the plan that was approved",
        });

        var result = await MergeAndWaitForApplyAsync(pr);

        Assert.Equal("failure", result.Conclusion);
        Assert.Contains("refused", result.Title, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("changed after it was approved", result.Summary, StringComparison.Ordinal);
        Assert.Contains("What to do", result.Summary, StringComparison.Ordinal);
        Assert.Null(ReadState("envs/dev"));
        await WaitForCommentAsync("apply refused");
        Assert.Equal("failure", _app.GitHub.Latest("ensemble: envs/dev", pr.Head)!.Conclusion);
        Assert.Equal(RunStatus.ApplyFailed, (await RunAsync(pr, "envs/dev")).Status);
    }

    [Fact]
    public async Task Merge_BaseChangedTheProjectAfterApproval_RefusedAndShownNothingApplied()
    {
        var pr = await OpenPlannedPullRequestAsync();
        await ApproveAsync(pr, "envs/dev");

        // Someone else changes envs/dev on main; the merge commit's envs/dev is no longer what was planned.
        pr.Repo.Checkout("main");
        pr.Repo.Write("envs/dev/tags.tf", "# owned by the platform team\n");
        pr.Repo.Commit("tag dev");
        pr.Repo.Checkout("feature");

        var result = await MergeAndWaitForApplyAsync(pr);

        Assert.Equal("failure", result.Conclusion);
        Assert.Contains("`envs/dev` (the project)", result.Summary, StringComparison.Ordinal);
        Assert.Null(ReadState("envs/dev"));
        await WaitForCommentAsync("apply refused");
    }

    [Fact]
    public async Task Merge_Refused_MergeCommitPlannedAndItsApplyButtonAppliesOnce()
    {
        var pr = await OpenPlannedPullRequestAsync();
        await ApproveAsync(pr, "envs/dev");
        pr.Repo.Checkout("main");
        pr.Repo.Write("envs/dev/tags.tf", "# owned by the platform team\n");
        pr.Repo.Commit("tag dev");
        pr.Repo.Checkout("feature");
        var refused = await MergeAndWaitForApplyAsync(pr);
        Assert.Equal("failure", refused.Conclusion);
        var mergeSha = refused.HeadSha;

        // The merge commit is planned and shown with an Apply button.
        CheckRunView? PostMerge(FakeGitHub g) => g.CheckRuns.FirstOrDefault(c =>
            c.HeadSha == mergeSha && c.ExternalId?.StartsWith("postmerge-", StringComparison.Ordinal) == true);
        await _app.GitHub.WaitUntilAsync(g => PostMerge(g) is { Conclusion: "action_required" }, Patience, "the post-merge plan");
        var plan = PostMerge(_app.GitHub)!;
        Assert.Equal("ensemble: envs/dev", plan.Name);
        Assert.Equal(["apply"], plan.Actions);
        Assert.Contains("sim_thing.dev_extra", plan.Summary + plan.Text, StringComparison.Ordinal);
        await WaitForCommentAsync("needs approval");

        // The PR's author may not approve; bob (write) may, once.
        await _app.SendWebhookAsync("check_run", RequestedActionPayload(pr.Repo, plan, "apply", "alice"));
        await WaitForCommentAsync("was refused");
        Assert.Null(ReadState("envs/dev"));

        await _app.SendWebhookAsync("check_run", RequestedActionPayload(pr.Repo, plan, "apply", Approver));
        await _app.SendWebhookAsync("check_run", RequestedActionPayload(pr.Repo, plan, "apply", Approver));
        await _app.GitHub.WaitUntilAsync(g => PostMerge(g) is { Conclusion: "success" }, Patience, "the post-merge apply");
        await WaitForCommentAsync("✅ applied");
        await Task.Delay(1000);

        Assert.Equal(1, ReadState("envs/dev")!["serial"]!.GetValue<long>());
        Assert.StartsWith("Applied", PostMerge(_app.GitHub)!.Title, StringComparison.Ordinal);
        var comments = _app.GitHub.Comments.Where(c => c.Body.StartsWith("### Ensemble apply", StringComparison.Ordinal)).ToList();
        var summary = Assert.Single(comments);
        Assert.Contains("(post-merge plan) | ✅ applied", summary.Body, StringComparison.Ordinal);
        Assert.Contains("apply refused", summary.Body, StringComparison.Ordinal);
        Assert.Empty(_app.GitHub.Unexpected);
    }

    [Fact]
    public async Task Merge_StateMovedSinceThePlan_StaleReportedWithWhatToDo()
    {
        var pr = await OpenPlannedPullRequestAsync();
        await ApproveAsync(pr, "envs/dev");
        File.WriteAllText(StateFile("envs/dev"), """{"version":4,"terraform_version":"1.9.0","serial":7,"lineage":"someone-else","outputs":{},"resources":[]}""");

        var result = await MergeAndWaitForApplyAsync(pr);

        Assert.Equal("failure", result.Conclusion);
        Assert.Contains("Saved plan is stale", result.Title, StringComparison.Ordinal);
        Assert.Contains("Plan the default branch again", result.Summary, StringComparison.Ordinal);
        Assert.Equal(7, ReadState("envs/dev")!["serial"]!.GetValue<long>());
    }

    [Fact]
    public async Task Close_WithoutMerge_NothingAppliedAndPlansAbandoned()
    {
        var pr = await OpenPlannedPullRequestAsync();
        await ApproveAsync(pr, "envs/dev");
        var before = _app.GitHub.CheckRuns.Count;

        await _app.SendWebhookAsync("pull_request", ClosedPayload(pr, merged: false, mergeSha: null));
        var state = _app.Service<IStateStore>();
        var deadline = DateTime.UtcNow + Patience;
        while ((await RunAsync(pr, "envs/dev")).Status != RunStatus.Abandoned && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        await Task.Delay(1000);
        Assert.Equal(RunStatus.Abandoned, (await RunAsync(pr, "envs/dev")).Status);
        Assert.Null(ReadState("envs/dev"));
        Assert.Equal(before, _app.GitHub.CheckRuns.Count);
        Assert.Empty(_app.GitHub.Comments);
        var head = (await state.ListHeadsAsync(pr.Ref, Number)).Single();
        Assert.Null(await state.GetMergeByHeadAsync(head.Id));
    }

    /// <summary>
    /// API economy (issue #5): a full cycle — open → plan N projects → approve each → merge → apply — sends at most
    /// 6N + 15 requests to GitHub. The figure and its breakdown are in docs/benchmarks.md ("GitHub API economy").
    /// </summary>
    [Fact]
    public async Task FullCycle_FourProjects_AtMostSixRequestsPerProjectPlusFifteen()
    {
        const int n = 4;
        var projects = Enumerable.Range(1, n).Select(i => $"envs/p{i}").ToList();
        var repo = _app.CreateRepository();
        foreach (var p in projects)
        {
            repo.Write($"{p}/main.tf", Project(p, Thing("base")));
        }

        var @base = repo.Commit("four projects");
        repo.Checkout("feature", create: true);
        foreach (var p in projects)
        {
            repo.Write($"{p}/main.tf", Project(p, Thing("base") + Thing("more")));
        }

        var pr = new Pr(repo, @base, repo.Commit("grow all four"));
        repo.SetPullRef(Number, pr.Head);
        var before = _app.GitHub.RequestCount;

        // Progress reports depend on how long terraform takes (at most one per interval per running job); this counts
        // what a cycle costs apart from them, so the figure does not depend on how busy the machine is.
        var interval = PlanJob.ProgressInterval;
        PlanJob.ProgressInterval = TimeSpan.FromMinutes(2);
        try
        {
            await RunFullCycleAsync(pr, projects);
        }
        finally
        {
            PlanJob.ProgressInterval = interval;
        }

        var requests = _app.GitHub.Requests.Skip(before).ToList();
        var breakdown = string.Join('\n', requests.GroupBy(r => r).OrderByDescending(g => g.Count()).Select(g => $"{g.Count(),4} {g.Key}"));
        var perCheckRun = string.Join('\n', _app.GitHub.CheckRuns.Select(c =>
            $"{c.Name} on {c.HeadSha[..7]}: {string.Join(" → ", c.History.Select(h => $"{h.Status} '{h.Title}'"))}"));
        var report = $"{requests.Count} requests for {n} projects (limit {6 * n + 15}):\n{breakdown}\n{perCheckRun}";
        output.WriteLine(report);
        Assert.True(requests.Count <= 6 * n + 15, report);
        Assert.Empty(_app.GitHub.Unexpected);
        foreach (var p in projects)
        {
            Assert.Equal(1, ReadState(p)!["serial"]!.GetValue<long>());
        }
    }

    private async Task RunFullCycleAsync(Pr pr, IReadOnlyList<string> projects)
    {
        await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", pr.Repo, Number, pr.Base, pr.Head));
        await _app.GitHub.WaitUntilAsync(g => g.Latest(AggregateStatus.CheckName, pr.Head) is { Conclusion: "action_required" }, Patience, "every plan");
        foreach (var p in projects)
        {
            await ApproveAsync(pr, p);
        }

        await _app.GitHub.WaitUntilAsync(g => g.Latest(AggregateStatus.CheckName, pr.Head) is { Conclusion: "success" }, Patience, "the aggregate after the approvals");
        var mergeSha = Merge(pr);
        await _app.SendWebhookAsync("pull_request", ClosedPayload(pr, merged: true, mergeSha));
        foreach (var p in projects)
        {
            Assert.Equal("success", (await WaitForApplyCheckRunAsync(mergeSha, p)).Conclusion);
        }

        await _app.GitHub.WaitUntilAsync(g => g.Comments.Count == 1 && Regex.Count(g.Comments[0].Body, "✅ applied") == projects.Count,
            Patience, "the comment with every apply");
        await _app.GitHub.WaitUntilAsync(g => g.Latest(AggregateStatus.CheckName, pr.Head)?.Title?.StartsWith("All 4 projects applied", StringComparison.Ordinal) == true,
            Patience, "the aggregate after the applies");
        await _app.GitHub.WaitUntilQuietAsync(TimeSpan.FromSeconds(2), Patience);
    }
}
