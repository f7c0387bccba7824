using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Amazon.S3.Model;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;
using Ensemble.Tests.TerraformSim;

namespace Ensemble.Tests.EndToEnd;

/// <summary>
/// A worker killed with SIGKILL mid-plan (no shutdown, no cleanup) and a new worker started: Hangfire hands the dead
/// worker's jobs over once their invisibility ends, and every plan completes exactly once and says it was retried.
/// The web role runs in the test process; the workers are the real App binary in processes of their own.
/// </summary>
[Collection(EndToEndCollection.Name)]
[Trait("Category", Categories.Integration)]
public sealed class CrashRecoveryTests(PostgresFixture postgres, S3Fixture s3) : IClassFixture<PostgresFixture>, IClassFixture<S3Fixture>, IAsyncLifetime
{
    private const int Cycles = 5;
    private static readonly string[] Projects = ["envs/a", "envs/b", "envs/c"];

    // A dead worker's job is taken over after this much silence; a live one extends it every fifth of it.
    private const string InvisibilityTimeout = "00:00:08";

    private EnsembleTestApp _app = null!;
    private string _postgres = "";

    public async Task InitializeAsync()
    {
        _postgres = await postgres.CreateDatabaseAsync();
        _app = await EnsembleTestApp.StartAsync(_postgres, s3.ServiceUrl, s3.Bucket, new Dictionary<string, string?>
        {
            ["Ensemble:Role"] = "web",
            ["Ensemble:JobInvisibilityTimeout"] = InvisibilityTimeout,
        });
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task WorkerKilledMidPlan_NewWorkerTakesOver_EveryPlanCompletesOnceAndSaysItWasRetried()
    {
        var worker = WorkerProcess.Start(_app, _postgres, s3, 0);
        var heads = new List<(TestRepository Repo, string Head)>();
        try
        {
            for (var cycle = 1; cycle <= Cycles; cycle++)
            {
                var (repo, @base, head) = SlowProjects(cycle);
                heads.Add((repo, head));
                await _app.SendWebhookAsync("pull_request", EnsembleTestApp.PullRequestPayload("opened", repo, cycle, @base, head));

                // Mid-plan: every project's plan job has started (state says planning) and had a moment to reach terraform
                // (the stand-in then sleeps 20 s, wide enough for all three to be planning at once on a busy machine: a 12 s
                // window once timed out in a full-suite run, one plan starting only after another had finished).
                // A plan reports no progress in its first 5 s, so state, not the check run, tells when they run.
                await WaitUntilAllPlanningAsync(repo, cycle, $"cycle {cycle}: every plan running\n{worker.Output}");
                await Task.Delay(1500);
                worker.Kill();

                worker = WorkerProcess.Start(_app, _postgres, s3, cycle);
                await _app.GitHub.WaitUntilAsync(g => Scenarios.AllCompleted(g, head, Projects.Length), Scenarios.Patience,
                    $"cycle {cycle}: the new worker to finish every plan\n{worker.Output}");
                await AssertEachPlanOnceAndRetriedAsync(repo, cycle, head);
            }

            // Nothing came twice later either: a duplicate job of an earlier cycle would have published again by now.
            for (var i = 0; i < heads.Count; i++)
            {
                AssertOneCheckRunOneConclusionEach(heads[i].Head);
            }

            Assert.Empty(_app.GitHub.Unexpected);
        }
        finally
        {
            worker.Kill();
        }
    }

    private async Task WaitUntilAllPlanningAsync(TestRepository repo, int number, string what)
    {
        var repoRef = new RepoRef(EnsembleTestApp.InstallationId, repo.Owner, repo.Name);
        var state = _app.Service<IStateStore>();
        var deadline = DateTime.UtcNow + Scenarios.Patience;
        while (DateTime.UtcNow < deadline)
        {
            if ((await state.ListHeadsAsync(repoRef, number)).SingleOrDefault() is { } head
                && await state.ListRunsAsync(head.Id) is { Count: > 0 } runs
                && runs.Count == Projects.Length && runs.All(r => r.Status == RunStatus.Planning))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Timed out waiting for {what}");
    }

    private async Task AssertEachPlanOnceAndRetriedAsync(TestRepository repo, int number, string head)
    {
        AssertOneCheckRunOneConclusionEach(head);
        var repoRef = new RepoRef(EnsembleTestApp.InstallationId, repo.Owner, repo.Name);
        var state = _app.Service<IStateStore>();
        var runs = await state.ListRunsAsync((await state.ListHeadsAsync(repoRef, number)).Single().Id);
        Assert.Equal(Projects, runs.Select(r => r.ProjectPath).Order());
        foreach (var run in runs)
        {
            Assert.Equal(RunStatus.AwaitingApproval, run.Status);
            Assert.Equal(2, run.Attempts);

            var check = _app.GitHub.Latest(AggregateStatus.ProjectCheckName(run.ProjectPath), head)!;
            Assert.Equal("action_required", check.Conclusion);
            Assert.Contains("Retried: attempt 2", check.Summary, StringComparison.Ordinal);
            Assert.Contains(check.History, h => h.Status == "in_progress"
                && (h.Summary ?? "").Contains("attempt 2: the previous attempt was interrupted", StringComparison.Ordinal));

            // The stored plan is the one the run recorded (the retry's, complete), not a torn one of the dead worker.
            var key = ArtifactKeys.For(repoRef, number, run.ProjectPath, head, ArtifactKeys.PlanFile);
            using var plan = await s3.Client.GetObjectAsync(new GetObjectRequest { BucketName = s3.Bucket, Key = key });
            using var bytes = new MemoryStream();
            await plan.ResponseStream.CopyToAsync(bytes);
            Assert.Equal(run.PlanSha256, Convert.ToHexStringLower(SHA256.HashData(bytes.ToArray())));
        }
    }

    private void AssertOneCheckRunOneConclusionEach(string head)
    {
        foreach (var project in Projects)
        {
            var runs = _app.GitHub.CheckRuns.Where(c => c.HeadSha == head && c.Name == AggregateStatus.ProjectCheckName(project)).ToList();
            var run = Assert.Single(runs);
            Assert.Equal("completed", run.Status);
            Assert.Single(run.History, h => h.Status == "completed");
        }
    }

    /// <summary>Three projects whose plans take a few seconds each (the stand-in's <c>sim_slow</c>), all changed by the PR.</summary>
    private (TestRepository Repo, string Base, string Head) SlowProjects(int number)
    {
        var repo = _app.CreateRepository(name: $"infra-{number}");
        foreach (var project in Projects)
        {
            repo.Write($"{project}/main.tf", Scenarios.Project(project.Replace("envs/", "", StringComparison.Ordinal)));
        }

        var @base = repo.Commit("three projects");
        repo.Checkout("feature", create: true);
        foreach (var project in Projects)
        {
            var name = project.Replace("envs/", "", StringComparison.Ordinal);
            repo.Write($"{project}/main.tf", Scenarios.Project(name, "resource \"sim_slow\" \"wait\" {\n  seconds = 20\n}\n"));
        }

        var head = repo.Commit("slow plans");
        repo.SetPullRef(number, head);
        return (repo, @base, head);
    }

    /// <summary>The real App binary with <c>Ensemble:Role=worker</c>, configured like the test host but with its own work directory.</summary>
    private sealed class WorkerProcess
    {
        private static readonly Lazy<string> PrivateKey = new(() => RSA.Create(2048).ExportRSAPrivateKeyPem());

        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private bool _killed;

        private WorkerProcess(Process process) => _process = process;

        /// <summary>The worker's last lines, for a failure message.</summary>
        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.Length <= 4000 ? _output.ToString() : _output.ToString(_output.Length - 4000, 4000);
                }
            }
        }

        public static WorkerProcess Start(EnsembleTestApp app, string postgres, S3Fixture s3, int index)
        {
#if DEBUG
            const string configuration = "Debug";
#else
            const string configuration = "Release";
#endif
            var dll = Path.Combine(SimBinary.SolutionRoot, "App", "bin", configuration, "net10.0", "Ensemble.App.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing: build App (the tests reference it)");
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Path.GetDirectoryName(dll)!,
            };
            start.ArgumentList.Add(dll);
            var settings = new Dictionary<string, string>
            {
                ["Ensemble__Role"] = "worker",
                ["Ensemble__Workers"] = "4",
                ["Ensemble__JobInvisibilityTimeout"] = InvisibilityTimeout,
                ["Ensemble__WorkDirectory"] = Path.Combine(Path.GetDirectoryName(app.WorkDirectory)!, $"worker-{index}"),
                ["GitHub__AppId"] = "1",
                ["GitHub__PrivateKey"] = PrivateKey.Value,
                ["GitHub__WebhookSecret"] = EnsembleTestApp.WebhookSecret,
                ["GitHub__ApiUrl"] = app.GitHub.ApiUrl,
                ["GitHub__GitUrl"] = new Uri(app.ReposRoot + "/").AbsoluteUri,
                ["Database__ConnectionString"] = postgres,
                ["Artifacts__S3__Bucket"] = s3.Bucket,
                ["Artifacts__S3__ServiceUrl"] = s3.ServiceUrl,
                ["Artifacts__S3__Region"] = "us-east-1",
                ["Artifacts__S3__AccessKey"] = s3.AccessKey,
                ["Artifacts__S3__SecretKey"] = s3.SecretKey,
                ["Terraform__Binary"] = SimBinary.Path,
                ["Terraform__Runner"] = "sandbox",
                ["Dashboard__Password"] = "dashboard-test-password",
                ["Logging__LogLevel__Default"] = "Warning",
                ["urls"] = "http://127.0.0.1:0",
            };
            foreach (var (key, value) in settings)
            {
                start.Environment[key] = value;
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException("The worker process did not start.");
            var worker = new WorkerProcess(process);
            process.OutputDataReceived += (_, e) => worker.Append(e.Data);
            process.ErrorDataReceived += (_, e) => worker.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return worker;
        }

        /// <summary>kill -9 of the worker and everything it started (terraform, bubblewrap): no graceful anything.</summary>
        public void Kill()
        {
            if (_killed)
            {
                return;
            }

            _killed = true;
            try
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
