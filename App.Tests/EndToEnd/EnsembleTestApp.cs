using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ensemble.App.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Hangfire;

namespace Ensemble.Tests.EndToEnd;

/// <summary>
/// The real Ensemble host on a loopback port, wired to real PostgreSQL, a real S3 server, real git repositories on
/// disk, the stand-in terraform and a WireMock GitHub.
/// </summary>
public sealed class EnsembleTestApp : IAsyncDisposable
{
    public const string WebhookSecret = "It's a Secret to Everybody";
    public const long InstallationId = 4242;

    private static readonly Lazy<string> PrivateKeyPem = new(() => RSA.Create(2048).ExportRSAPrivateKeyPem());

    private readonly HttpClient _http = new();

    private EnsembleTestApp(WebApplication app, FakeGitHub github, string workDirectory, string reposRoot, Uri address)
    {
        App = app;
        GitHub = github;
        WorkDirectory = workDirectory;
        ReposRoot = reposRoot;
        Address = address;
    }

    public WebApplication App { get; }
    public FakeGitHub GitHub { get; }
    public string WorkDirectory { get; }
    public string ReposRoot { get; }
    public Uri Address { get; }

    public T Service<T>() where T : notnull => App.Services.GetRequiredService<T>();

    public static async Task<EnsembleTestApp> StartAsync(
        string postgres, string s3ServiceUrl, string bucket, IDictionary<string, string?>? overrides = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "ensemble-e2e-" + Guid.NewGuid().ToString("n")[..12]);
        var reposRoot = Path.Combine(root, "remotes");
        var work = Path.Combine(root, "work");
        Directory.CreateDirectory(reposRoot);
        var github = new FakeGitHub();
        // A known port, so Ensemble:PublicUrl (links in check runs) points at this very host.
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:AppId"] = "1",
            ["GitHub:PrivateKey"] = PrivateKeyPem.Value,
            ["GitHub:WebhookSecret"] = WebhookSecret,
            ["GitHub:ApiUrl"] = github.ApiUrl,
            ["GitHub:GitUrl"] = new Uri(reposRoot + "/").AbsoluteUri,
            ["Database:ConnectionString"] = postgres,
            ["Artifacts:S3:Bucket"] = bucket,
            ["Artifacts:S3:ServiceUrl"] = s3ServiceUrl,
            ["Artifacts:S3:Region"] = "us-east-1",
            ["Artifacts:S3:AccessKey"] = "S3RVER",
            ["Artifacts:S3:SecretKey"] = "S3RVER",
            ["Terraform:Binary"] = Ensemble.Tests.TerraformSim.SimBinary.Path,
            ["Terraform:Runner"] = "sandbox",
            ["Ensemble:WorkDirectory"] = work,
            ["Ensemble:Workers"] = "4",
            // A job a worker fetched but never started (its connection broke after claiming the row, before the
            // answer arrived) is taken over after this, well within a test's patience, instead of the default minute. Running jobs keep theirs
            // (sliding invisibility), so nothing runs twice; a timeout's diagnostics still show the worker's error.
            ["Ensemble:JobInvisibilityTimeout"] = "00:00:30",
            ["Dashboard:Password"] = "dashboard-test-password",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Hangfire"] = "Warning",
            // The recent-log provider filters by itself (Ensemble's lines at Information, others at Warning).
            [$"Logging:{typeof(RecentLog).FullName}:LogLevel:Default"] = "Information",
            ["urls"] = $"http://127.0.0.1:{port}",
            ["Ensemble:PublicUrl"] = $"http://127.0.0.1:{port}/",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var app = await EnsembleApp.BuildAsync([], configuration => configuration.AddInMemoryCollection(settings));
        var log = new RecentLog();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(log);
        github.Diagnostics = () => Diagnose(app.Services, log);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new EnsembleTestApp(app, github, work, reposRoot, new Uri(address));
    }

    public TestRepository CreateRepository(string owner = "octo-org", string name = "infra") =>
        TestRepository.Create(ReposRoot, owner, name);

    /// <summary>Signs the body like GitHub (X-Hub-Signature-256) and posts it to the webhook endpoint.</summary>
    public async Task<HttpResponseMessage> SendWebhookAsync(string @event, string body, string? deliveryId = null, string? signature = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Address, "/api/github/webhooks"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-GitHub-Event", @event);
        request.Headers.Add("X-GitHub-Delivery", deliveryId ?? Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", signature ?? Sign(body, WebhookSecret));
        request.Headers.UserAgent.ParseAdd("GitHub-Hookshot/e2e");
        return await _http.SendAsync(request);
    }

    public static string Sign(string body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    /// <summary>GitHub's own pull_request payload (octokit/webhooks example), pointed at the test repository.</summary>
    public static string PullRequestPayload(string action, TestRepository repo, int number, string baseSha, string headSha,
        string headRef = "feature", string author = "alice", bool merged = false)
    {
        var file = action switch
        {
            "opened" => "opened.json",
            "synchronize" => "synchronize.json",
            "closed" => "closed.json",
            "reopened" => "reopened.json",
            _ => "opened.json",
        };
        var payload = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "webhooks", "pull_request", file)))!.AsObject();
        payload["action"] = action;
        payload["installation"] = new JsonObject { ["id"] = InstallationId };
        var repository = payload["repository"]!.AsObject();
        repository["name"] = repo.Name;
        repository["full_name"] = repo.FullName;
        repository["owner"]!["login"] = repo.Owner;
        repository["default_branch"] = "main";
        var pr = payload["pull_request"]!.AsObject();
        pr["number"] = number;
        pr["merged"] = merged;
        pr["user"]!["login"] = author;
        pr["head"]!["sha"] = headSha;
        pr["head"]!["ref"] = headRef;
        pr["head"]!["repo"] = repository.DeepClone();
        pr["base"]!["sha"] = baseSha;
        pr["base"]!["ref"] = "main";
        pr["base"]!["repo"] = repository.DeepClone();
        payload["number"] = number;
        return payload.ToJsonString();
    }

    /// <summary>GitHub's check_run.requested_action payload (octokit/webhooks example) for a click on one of Ensemble's runs.</summary>
    public static string CheckRunActionPayload(TestRepository repo, CheckRunView run, string identifier, string sender, string action = "requested_action")
    {
        var payload = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "webhooks", "check_run", "requested_action.json")))!.AsObject();
        payload["action"] = action;
        payload["installation"] = new JsonObject { ["id"] = InstallationId };
        PointAt(payload, repo);
        var checkRun = payload["check_run"]!.AsObject();
        checkRun["id"] = run.Id;
        checkRun["name"] = run.Name;
        checkRun["head_sha"] = run.HeadSha;
        checkRun["external_id"] = run.ExternalId;
        if (action == "requested_action")
        {
            payload["requested_action"] = new JsonObject { ["identifier"] = identifier };
        }
        else
        {
            payload.Remove("requested_action");
        }

        payload["sender"]!["login"] = sender;
        return payload.ToJsonString();
    }

    /// <summary>GitHub's issue_comment.created payload (octokit/webhooks example) turned into a comment on pull request <paramref name="number"/>.</summary>
    public static string CommentPayload(TestRepository repo, int number, string body, string author, long commentId = 5150)
    {
        var payload = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "webhooks", "issue_comment", "created.with-installation.json")))!.AsObject();
        payload["installation"] = new JsonObject { ["id"] = InstallationId };
        PointAt(payload, repo);
        var issue = payload["issue"]!.AsObject();
        issue["number"] = number;
        issue["pull_request"] = new JsonObject { ["url"] = $"https://api.github.com/repos/{repo.FullName}/pulls/{number}" };
        var comment = payload["comment"]!.AsObject();
        comment["id"] = commentId;
        comment["body"] = body;
        comment["user"]!["login"] = author;
        comment["user"]!["type"] = "User";
        payload["sender"]!["login"] = author;
        return payload.ToJsonString();
    }

    private static void PointAt(JsonObject payload, TestRepository repo)
    {
        var repository = payload["repository"]!.AsObject();
        repository["name"] = repo.Name;
        repository["full_name"] = repo.FullName;
        repository["owner"]!["login"] = repo.Owner;
        repository["default_branch"] = "main";
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        GitHub.Dispose();
        _http.Dispose();
        try
        {
            Directory.Delete(Path.GetDirectoryName(WorkDirectory)!, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>What the host was doing: its Hangfire jobs that are not done yet, recent failures, and its last log lines.</summary>
    private static string Diagnose(IServiceProvider services, RecentLog log)
    {
        var text = new StringBuilder();
        try
        {
            var monitor = services.GetRequiredService<JobStorage>().GetMonitoringApi();
            static string Name(Hangfire.Common.Job? job) => job is null ? "?" : $"{job.Type.Name}.{job.Method.Name}({string.Join(", ", job.Args)})";
            text.AppendLine("Hangfire jobs:");
            foreach (var (id, job) in monitor.ProcessingJobs(0, 50))
            {
                text.AppendLine($"  processing {id} {Name(job.Job)} since {job.StartedAt:HH:mm:ss.fff} on {job.ServerId}");
            }
            foreach (var queue in monitor.Queues())
            {
                foreach (var (id, job) in monitor.EnqueuedJobs(queue.Name, 0, 50))
                {
                    text.AppendLine($"  enqueued {id} {Name(job.Job)} at {job.EnqueuedAt:HH:mm:ss.fff} ({job.State})");
                }
            }
            foreach (var (id, job) in monitor.ScheduledJobs(0, 50))
            {
                text.AppendLine($"  scheduled {id} {Name(job.Job)} for {job.EnqueueAt:HH:mm:ss.fff}");
            }
            foreach (var (id, job) in monitor.FailedJobs(0, 20))
            {
                text.AppendLine($"  failed {id} {Name(job.Job)} at {job.FailedAt:HH:mm:ss.fff}: {job.ExceptionType}: {job.ExceptionMessage}");
            }
            foreach (var server in monitor.Servers())
            {
                text.AppendLine($"  server {server.Name}: {server.WorkersCount} workers, heartbeat {server.Heartbeat:HH:mm:ss.fff}");
            }
        }
        catch (Exception e)
        {
            text.AppendLine($"Hangfire jobs unavailable: {e.GetType().Name}: {e.Message}");
        }

        ThreadPool.GetAvailableThreads(out var workers, out _);
        ThreadPool.GetMaxThreads(out var maxWorkers, out _);
        text.AppendLine($"Thread pool: {ThreadPool.ThreadCount} threads ({maxWorkers - workers} busy), {ThreadPool.PendingWorkItemCount} work items waiting.");
        text.AppendLine("Child processes of the test host:");
        foreach (var child in ChildProcesses(Environment.ProcessId))
        {
            text.Append("  ").AppendLine(child);
        }
        text.AppendLine($"Now {DateTime.UtcNow:HH:mm:ss.fff}; last log lines:");
        foreach (var line in log.Lines.TakeLast(80))
        {
            text.Append("  ").AppendLine(line);
        }
        return text.ToString();
    }

    /// <summary>Processes whose parent is <paramref name="parent"/> (Linux /proc): a hung git or terraform shows here.</summary>
    private static IEnumerable<string> ChildProcesses(int parent)
    {
        var found = new List<string>();
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    if (fields[1] == parent.ToString(System.Globalization.CultureInfo.InvariantCulture))
                    {
                        var command = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
                        found.Add($"{Path.GetFileName(dir)} [{fields[0]}] {(command.Length > 200 ? command[..200] + "…" : command)}");
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
                {
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return found;
    }

    public static HttpStatusCode Status(HttpResponseMessage response) => response.StatusCode;

    public Task<HttpResponseMessage> GetAsync(string url) => _http.GetAsync(new Uri(url));
}
