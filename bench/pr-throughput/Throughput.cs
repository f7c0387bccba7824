using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Ensemble.Tests.EndToEnd;
using Ensemble.Tests.TerraformSim;
using Npgsql;

namespace Ensemble.Bench.PrThroughput;

/// <summary>
/// Part (a): one pull request touching N projects, from the signed webhook to every check run completed, against the
/// real App in a child process (PostgreSQL, S3, git over file://, the stand-in terraform, WireMock GitHub here).
/// </summary>
public static class Throughput
{
    private const int PollMilliseconds = 20;

    public sealed record Timeline(double AckMs, double FirstCheckRunMs, double AllCheckRunsMs, double FirstCompletedMs, double HalfCompletedMs, double AllCompletedMs, double AggregateMs);

    /// <param name="Machine">Everything the machine was busy with over the run (see <see cref="BenchMachine.BusyCpuSeconds"/>).</param>
    /// <summary>s3rver's CPU seconds so far (run.sh exports its pid), or NaN.</summary>
    private static double S3Cpu() =>
        int.TryParse(Environment.GetEnvironmentVariable("ENSEMBLE_BENCH_S3_PID"), out var pid) && File.Exists($"/proc/{pid}/stat")
            ? ProcStat.Process(pid).Own
            : double.NaN;

    /// <param name="S3">The S3 server's own CPU (s3rver started by run.sh; NaN when its pid is unknown).</param>
    public sealed record Cpu(double App, double Children, double Postgres, double Harness, double Machine, double S3);

    public sealed record JobStat(string Job, int Count, double LatencyP50, double LatencyP95, double LatencyMax, double DurationP50, double DurationP95, double DurationSum);

    public sealed record RunResult(int Run, int Projects, Timeline Timeline, Cpu Cpu, int GitHubRequests, IReadOnlyDictionary<string, int> Conclusions, IReadOnlyList<JobStat> Jobs)
    {
        public IReadOnlyDictionary<string, int> RequestKinds { get; init; } = new Dictionary<string, int>();

        /// <summary>CPU seconds per second of the idle App just before the run.</summary>
        public double AppIdleCpuPerSecond { get; init; }

        public string LoadAverage { get; init; } = "";
    }

    /// <summary>Project <paramref name="i"/> as measured run <paramref name="run"/> changes it: one resource more.</summary>
    public static string MeasuredProject(int i, int run) =>
        Scenarios.Project(Name(i), $"\nresource \"sim_thing\" \"extra_{run}\" {{\n  name = \"run {run}\"\n}}\n");

    public sealed record Result(string Runner, string LogLevel, string StandIn, int Workers, int Projects, IReadOnlyList<RunResult> Runs, RunResult Warmup, string LoadBefore, string LoadAfter);

    public static async Task<Result> RunAsync(BenchOptions options)
    {
        var root = Directory.CreateTempSubdirectory("pr-throughput-");
        var reposRoot = Path.Combine(root.FullName, "remotes");
        Directory.CreateDirectory(reposRoot);
        var database = "pr_throughput_" + Guid.NewGuid().ToString("n")[..8];
        var connectionString = await Databases.CreateAsync(options.Postgres, database);
        var bucket = "pr-throughput-" + Guid.NewGuid().ToString("n")[..8];
        await CreateBucketAsync(options.S3Url, bucket);
        using var github = new FakeGitHub();

        Log.Line($"writing a repository with {options.Projects} projects under {reposRoot}");
        var repo = TestRepository.Create(reposRoot, "octo-org", "infra");
        for (var i = 0; i < options.Projects; i++)
        {
            repo.Write($"envs/{Name(i)}/main.tf", Scenarios.Project(Name(i)));
        }
        repo.Write("README.md", "# infra\n");
        var @base = repo.Commit("base: " + options.Projects + " projects");

        var keyPath = Path.Combine(root.FullName, "app-key.pem");
        using (var rsa = RSA.Create(2048))
        {
            await File.WriteAllTextAsync(keyPath, rsa.ExportRSAPrivateKeyPem());
        }

        var port = ChildProcess.FreeLoopbackPort();
        var environment = new Dictionary<string, string>
        {
            ["GitHub__AppId"] = "1",
            ["GitHub__PrivateKeyPath"] = keyPath,
            ["GitHub__WebhookSecret"] = EnsembleTestApp.WebhookSecret,
            ["GitHub__ApiUrl"] = github.ApiUrl,
            ["GitHub__GitUrl"] = new Uri(reposRoot + "/").AbsoluteUri,
            ["Database__ConnectionString"] = connectionString,
            ["Artifacts__S3__Bucket"] = bucket,
            ["Artifacts__S3__ServiceUrl"] = options.S3Url,
            ["Artifacts__S3__Region"] = "us-east-1",
            ["Artifacts__S3__AccessKey"] = "S3RVER",
            ["Artifacts__S3__SecretKey"] = "S3RVER",
            ["Terraform__Binary"] = options.Terraform ?? SimBinary.Path,
            ["Terraform__Runner"] = options.Runner,
            ["Ensemble__WorkDirectory"] = Path.Combine(root.FullName, "work"),
            ["Ensemble__PublicUrl"] = $"http://127.0.0.1:{port}/",
            ["Dashboard__Password"] = "pr-throughput-dashboard",
            // What ships (appsettings.json: Information) unless --log-level asks otherwise; Hangfire follows the default.
            ["Logging__LogLevel__Default"] = options.LogLevel,
            ["Logging__LogLevel__Hangfire"] = options.LogLevel,
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
        };
        if (options.TracePath is not null)
        {
            environment["DOTNET_PerfMapEnabled"] = "1";
            // With W^X on, JIT-compiled code runs from a double mapping perf cannot match to the perf map.
            environment["DOTNET_EnableWriteXorExecute"] = "0";
        }

        if (options.Workers is { } workers)
        {
            environment["Ensemble__Workers"] = workers.ToString(CultureInfo.InvariantCulture);
        }

        // ENSEMBLE_BENCH_APP_DLL measures another build of the App, e.g. a ReadyToRun publish like the container image's.
        var appDll = Environment.GetEnvironmentVariable("ENSEMBLE_BENCH_APP_DLL") is { Length: > 0 } other
            ? other
            : Path.Combine(SimBinary.SolutionRoot, "App", "bin", "Release", "net10.0", "Ensemble.App.dll");
        if (!File.Exists(appDll))
        {
            throw new InvalidOperationException($"{appDll} is missing: build App in Release (this project references it, so `dotnet run -c Release` builds it).");
        }

        var loadBefore = ProcStat.LoadAverage();
        RunResult warmup;
        var runs = new List<RunResult>();
        // The App stops before its work directory is deleted.
        await using (var app = await ChildProcess.StartAsync("app", "dotnet", [appDll], environment, root.FullName, port, TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(35)))
        {
            Log.Line($"App pid {app.Pid} on {app.BaseUri} (runner {options.Runner}), log {app.LogPath}");
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            await using var data = NpgsqlDataSource.Create(connectionString);
            var postmaster = ProcStat.ParentOf((int)await ScalarLongAsync(data, "SELECT pg_backend_pid()"));

            // Warm-up: JIT, connection pools, the mirror's first clone and the base commit's discovery snapshot.
            var warmHead = Branch(repo, "warm-up", Math.Min(5, options.Projects), 0, 1);
            warmup = await MeasureAsync(app, http, data, postmaster, github, repo, @base, warmHead, 1, Math.Min(5, options.Projects), 0);
            Log.Line($"warm-up: {Summary(warmup)}");

            for (var run = 1; run <= options.Runs; run++)
            {
                var number = 100 + run;
                var head = Branch(repo, $"run-{run}", options.Projects, run, number);
                using var trace = run == options.Runs && options.TracePath is { } tracePath ? StartTrace(app.Pid, tracePath) : null;
                var result = await MeasureAsync(app, http, data, postmaster, github, repo, @base, head, number, options.Projects, run);
                Log.Line($"run {run}: {Summary(result)}");
                if (trace is not null)
                {
                    // perf writes its file when interrupted, like Ctrl+C.
                    using (var interrupt = Process.Start("kill", ["-INT", trace.Id.ToString(CultureInfo.InvariantCulture)]))
                    {
                        await interrupt.WaitForExitAsync();
                    }

                    await trace.WaitForExitAsync();
                    Log.Line($"trace written to {options.TracePath}");
                }
                runs.Add(result);
            }
        }

        var loadAfter = ProcStat.LoadAverage();
        var ensembleWorkers = options.Workers ?? new Ensemble.Jobs.Jobs.EnsembleOptions().Workers;
        try
        {
            root.Delete(recursive: true);
        }
        catch (IOException)
        {
            // Leftovers in the temp directory are harmless.
        }

        return new Result(options.Runner, options.LogLevel, options.Terraform ?? SimBinary.Path, ensembleWorkers, options.Projects, runs, warmup, loadBefore, loadAfter);
    }

    private static string Name(int i) => $"p{i:000}";

    /// <summary>perf samples the App's CPU (JIT-compiled frames named through DOTNET_PerfMapEnabled's /tmp/perf-PID.map).</summary>
    private static Process StartTrace(int pid, string path)
    {
        var info = new ProcessStartInfo("perf") { UseShellExecute = false };
        foreach (var a in new[] { "record", "-F", "499", "-g", "-p", pid.ToString(CultureInfo.InvariantCulture), "-o", path })
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start perf (apt-get install linux-perf)");
        Thread.Sleep(1000);
        return process;
    }

    /// <summary>A branch off main changing the first <paramref name="count"/> projects (one new resource each), exposed as PR <paramref name="number"/>.</summary>
    private static string Branch(TestRepository repo, string branch, int count, int run, int number)
    {
        repo.Checkout("main");
        repo.Checkout(branch, create: true);
        for (var i = 0; i < count; i++)
        {
            repo.Write($"envs/{Name(i)}/main.tf", MeasuredProject(i, run));
        }

        var head = repo.Commit($"{branch}: change {count} projects");
        repo.SetPullRef(number, head);
        repo.Checkout("main");
        return head;
    }

    private static async Task<RunResult> MeasureAsync(ChildProcess app, HttpClient http, NpgsqlDataSource data, int postmaster, FakeGitHub github, TestRepository repo,
        string @base, string head, int number, int projects, int run)
    {
        // What the App burns doing nothing (Hangfire polling, heartbeats, the outbox timer), to tell it from the work.
        var idleBefore = ProcStat.Process(app.Pid).Own;
        await Task.Delay(TimeSpan.FromSeconds(5));
        var idlePerSecond = (ProcStat.Process(app.Pid).Own - idleBefore) / 5;
        var lastJobId = await ScalarLongAsync(data, "SELECT coalesce(max(id), 0) FROM hangfire.job");
        var requestsBefore = github.RequestCount;
        var body = EnsembleTestApp.PullRequestPayload("opened", repo, number, @base, head);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(app.BaseUri, "/api/github/webhooks"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-GitHub-Event", "pull_request");
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", EnsembleTestApp.Sign(body, EnsembleTestApp.WebhookSecret));
        request.Headers.UserAgent.ParseAdd("GitHub-Hookshot/pr-throughput");

        var appBefore = ProcStat.Process(app.Pid);
        var postgresBefore = ProcStat.Postgres(postmaster);
        var harnessBefore = ProcStat.Self();
        var s3Before = S3Cpu();
        var machineBefore = BenchMachine.BusyCpuSeconds();
        var start = Stopwatch.GetTimestamp();
        using (var response = await http.SendAsync(request))
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"the webhook was answered {(int)response.StatusCode}");
            }
        }

        var ack = Elapsed(start);
        double first = double.NaN, all = double.NaN, firstDone = double.NaN, half = double.NaN, done = double.NaN, aggregate = double.NaN;
        var deadline = start + (long)(Math.Max(120, projects * 3.0) * Stopwatch.Frequency);
        while (true)
        {
            var now = Elapsed(start);
            var runs = github.CheckRuns.Where(c => c.HeadSha == head && c.Name.StartsWith("ensemble: ", StringComparison.Ordinal))
                .GroupBy(c => c.Name).Select(g => g.Last()).ToList();
            var completed = runs.Count(r => r.Status == "completed");
            if (runs.Count > 0 && double.IsNaN(first)) { first = now; }
            if (runs.Count == projects && double.IsNaN(all)) { all = now; }
            if (completed > 0 && double.IsNaN(firstDone)) { firstDone = now; }
            if (completed * 2 >= projects && double.IsNaN(half)) { half = now; }
            if (completed == projects && double.IsNaN(done)) { done = now; }
            if (Scenarios.AllCompleted(github, head, projects))
            {
                aggregate = now;
                break;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"run {run}: after {now / 1000:0} s, {runs.Count} of {projects} check runs exist and {completed} are completed; see {app.LogPath}"
                    + (github.Unexpected.Count > 0 ? "\nunexpected GitHub requests: " + string.Join("; ", github.Unexpected.Take(5)) : ""));
            }

            await Task.Delay(PollMilliseconds);
        }

        var appAfter = ProcStat.Process(app.Pid);
        var cpu = new Cpu(appAfter.Own - appBefore.Own, appAfter.Children - appBefore.Children, ProcStat.Postgres(postmaster) - postgresBefore, ProcStat.Self() - harnessBefore,
            BenchMachine.BusyCpuSeconds() - machineBefore, S3Cpu() - s3Before);
        var conclusions = github.CheckRuns.Where(c => c.HeadSha == head && c.Name.StartsWith("ensemble: ", StringComparison.Ordinal))
            .GroupBy(c => c.Name).Select(g => g.Last().Conclusion ?? "none").GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
        // Jobs finish their bookkeeping (state change to Succeeded) a moment after their last GitHub call.
        await Task.Delay(500);
        var jobs = await JobStatsAsync(data, lastJobId);
        return new RunResult(run, projects, new Timeline(ack, first, all, firstDone, half, done, aggregate), cpu, github.RequestCount - requestsBefore, conclusions, jobs)
        {
            RequestKinds = RequestKinds(github, requestsBefore),
            AppIdleCpuPerSecond = idlePerSecond,
            LoadAverage = ProcStat.LoadAverage(),
        };
    }

    /// <summary>What Ensemble asked GitHub for during the run, by kind (which check run, which status).</summary>
    private static Dictionary<string, int> RequestKinds(FakeGitHub github, int skip)
    {
        var names = github.CheckRuns.ToDictionary(c => c.Id.ToString(CultureInfo.InvariantCulture), c => c.Name);
        var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in github.Server.LogEntries.Skip(skip))
        {
            var request = entry.RequestMessage;
            var segments = request.AbsolutePath.Trim('/').Split('/');
            string? status = null;
            string? name = null;
            if (request.Body is { Length: > 0 } body && body.TrimStart().StartsWith('{'))
            {
                using var json = JsonDocument.Parse(body);
                status = json.RootElement.TryGetProperty("conclusion", out var c) && c.ValueKind == JsonValueKind.String ? "completed"
                    : json.RootElement.TryGetProperty("status", out var st) && st.ValueKind == JsonValueKind.String ? st.GetString() : null;
                name = json.RootElement.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            }

            var kind = (request.Method, segments) switch
            {
                ("POST", [.., "access_tokens"]) => "POST installation token",
                ("POST", [.., "check-runs"]) => $"POST check run ({(name == "ensemble" ? "aggregate" : "project")}, {status})",
                ("PATCH", [.., "check-runs", var id]) => $"PATCH check run ({(names.GetValueOrDefault(id) == "ensemble" ? "aggregate" : "project")}, {status})",
                _ => $"{request.Method} {request.AbsolutePath}",
            };
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }

        return kinds;
    }

    /// <summary>Hangfire's own numbers per job type: Latency (creation → start of execution) and PerformanceDuration, both ms.</summary>
    private static async Task<IReadOnlyList<JobStat>> JobStatsAsync(NpgsqlDataSource data, long afterJobId)
    {
        var rows = new List<(string Job, double Latency, double Duration)>();
        await using var command = data.CreateCommand("""
            SELECT j.invocationdata::text, s.data::text
            FROM hangfire.job j JOIN hangfire.state s ON s.jobid = j.id AND s.name = 'Succeeded'
            WHERE j.id > $1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = afterJobId });
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                using var invocation = JsonDocument.Parse(reader.GetString(0));
                using var state = JsonDocument.Parse(reader.GetString(1));
                var type = invocation.RootElement.GetProperty("Type").GetString() ?? "?";
                var job = type.Split(',')[0].Split('.')[^1];
                rows.Add((job, Number(state.RootElement, "Latency"), Number(state.RootElement, "PerformanceDuration")));
            }
        }

        return [.. rows.GroupBy(r => r.Job).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var latency = g.Select(r => r.Latency).ToList();
            var duration = g.Select(r => r.Duration).ToList();
            return new JobStat(g.Key, g.Count(), Stats.Percentile(latency, 50), Stats.Percentile(latency, 95), latency.Max(),
                Stats.Percentile(duration, 50), Stats.Percentile(duration, 95), duration.Sum());
        })];
    }

    private static double Number(JsonElement state, string name) =>
        state.TryGetProperty(name, out var value) && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number : double.NaN;

    private static async Task<long> ScalarLongAsync(NpgsqlDataSource data, string sql)
    {
        await using var command = data.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static double Elapsed(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;

    private static async Task CreateBucketAsync(string serviceUrl, string bucket)
    {
        using var client = new AmazonS3Client(new BasicAWSCredentials("S3RVER", "S3RVER"),
            new AmazonS3Config { ServiceURL = serviceUrl, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        await client.PutBucketAsync(bucket);
    }

    public static string Summary(RunResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Projects} projects: all completed at {r.Timeline.AllCompletedMs / 1000:0.00} s (aggregate {r.Timeline.AggregateMs / 1000:0.00} s); CPU s app {r.Cpu.App:0.00} children {r.Cpu.Children:0.00} postgres {r.Cpu.Postgres:0.00} harness {r.Cpu.Harness:0.00} s3 {r.Cpu.S3:0.00} machine {r.Cpu.Machine:0.00}; {r.GitHubRequests} GitHub requests; {string.Join(", ", r.Conclusions.Select(kv => $"{kv.Value} {kv.Key}"))}");
}
