using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Npgsql;

namespace Ensemble.Bench.WebhookLoad;

/// <summary>Runs the whole benchmark: bare baseline, then the App per role, audits the database, writes the report.</summary>
public static class Harness
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        // Bursts of responses must not wait for the thread pool to grow; this is the harness, not the server under test.
        ThreadPool.SetMinThreads(64, 64);
        var total = Stopwatch.StartNew();
        var work = Directory.CreateTempSubdirectory("webhook-load-");
        var payload = await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "synchronize.octocrab.json"));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using var client = WebhookSender.CreateClient();
        var sender = new WebhookSender(client, payload, System.Text.Encoding.UTF8.GetBytes(secret));
        var phases = new List<PhaseResult>();
        var audits = new List<DeliveryAudit>();
        var notes = new List<string>();
        var loadBefore = LoadAverage();
        if (options.AppEnvironment.Count > 0)
        {
            notes.Add("App environment overrides: " + string.Join(", ", options.AppEnvironment.Select(kv => $"`{kv.Key}={kv.Value}`")) + ".");
        }

        Log($"work directory {work.FullName}");
        await using (var bare = await StartBareAsync(work.FullName))
        {
            Log($"bare endpoint on {bare.BaseUri}");
            phases.AddRange((await MeasureAsync("bare", bare, sender, options, "bare")).Phases);
        }

        foreach (var role in options.Roles)
        {
            var database = $"webhook_load_{role}";
            var connectionString = await Databases.CreateAsync(options.Postgres, database);
            var environment = AppEnvironment(work.FullName, role, secret, connectionString);
            foreach (var (key, value) in options.AppEnvironment)
            {
                environment[key] = value;
            }
            await using var app = await ChildProcess.StartAsync($"app-{role}", "dotnet", [options.AppDll], environment, work.FullName);
            Log($"App (role {role}) on {app.BaseUri}, log {app.LogPath}");
            var measured = await MeasureAsync($"app ({role})", app, sender, options, role);
            phases.AddRange(measured.Phases);
            audits.Add(await AuditAsync($"app ({role})", app, sender, connectionString, measured.Acknowledged, role));
        }

        notes.Add($"Other load on the machine (1-min load average from /proc/loadavg): {loadBefore} at the start, {LoadAverage()} at the end; "
            + "with 2 cores, anything above ~2 means the benchmark shared the CPU with other work.");
        var report = new BenchReport(DescribeMachine(), DateTimeOffset.UtcNow, options.Command, options, phases, audits, notes)
        {
            PayloadKb = payload.Length / 1024.0,
        };
        var markdown = report.ToMarkdown();
        Console.WriteLine();
        Console.WriteLine(markdown);
        if (options.DocsPath is { } docs)
        {
            var existing = File.Exists(docs) ? await File.ReadAllTextAsync(docs) : "";
            await File.WriteAllTextAsync(docs, BenchReport.ReplaceSection(existing, markdown));
            Log($"wrote the '{BenchReport.Heading[3..]}' section of {docs}");
        }
        Log($"done in {total.Elapsed.TotalSeconds:0} s");
        try
        {
            if (Environment.GetEnvironmentVariable("WEBHOOK_LOAD_KEEP") is null) { work.Delete(recursive: true); }
        }
        catch (IOException)
        {
            // Leftover logs in /tmp are harmless.
        }
        return report.Goals().All(g => g.Passed != false) ? 0 : 1;
    }

    private sealed record Measured(IReadOnlyList<PhaseResult> Phases, IReadOnlySet<string> Acknowledged);

    private static async Task<Measured> MeasureAsync(string target, ChildProcess server, WebhookSender sender, BenchOptions options, string idTag)
    {
        var acknowledged = new HashSet<string>(StringComparer.Ordinal);
        var results = new List<PhaseResult>();
        void Keep(PhaseRun run)
        {
            acknowledged.UnionWith(run.Samples.Where(s => s.Accepted).Select(s => s.DeliveryId));
        }

        if (options.Warmup > TimeSpan.Zero)
        {
            Log($"{target}: warm-up {options.Warmup.TotalSeconds:0} s at {options.Rate}/s");
            Keep(await LoadGenerator.FixedRateAsync(sender, server.BaseUri, options.Rate, options.Warmup, $"{idTag}-warmup-"));
        }

        Log($"{target}: {options.Rate}/s for {options.Duration.TotalSeconds:0} s");
        var before = CpuMeter.Read(server);
        var run = await LoadGenerator.FixedRateAsync(sender, server.BaseUri, options.Rate, options.Duration, $"{idTag}-fixed-");
        results.Add(PhaseResult.From(target, $"{options.Rate}/s", run, CpuMeter.Between(before, CpuMeter.Read(server))));
        Keep(run);
        Log(Summary(results[^1]));

        Log($"{target}: max throughput, {options.Concurrency} connections for {options.MaxDuration.TotalSeconds:0} s");
        before = CpuMeter.Read(server);
        run = await LoadGenerator.MaxThroughputAsync(sender, server.BaseUri, options.Concurrency, options.MaxDuration, $"{idTag}-max-");
        results.Add(PhaseResult.From(target, $"max, {options.Concurrency} conns", run, CpuMeter.Between(before, CpuMeter.Read(server))));
        Keep(run);
        Log(Summary(results[^1]));
        return new Measured(results, acknowledged);
    }

    private static async Task<DeliveryAudit> AuditAsync(string target, ChildProcess app, WebhookSender sender, string connectionString, IReadOnlySet<string> acknowledged, string idTag)
    {
        // GitHub redelivers with the same id: both attempts must be acknowledged, and stored once.
        var redeliveryId = $"{idTag}-redelivery-{Guid.NewGuid():N}";
        var first = await sender.SendAsync(app.BaseUri, redeliveryId, Stopwatch.GetTimestamp());
        var second = await sender.SendAsync(app.BaseUri, redeliveryId, Stopwatch.GetTimestamp());

        await using var data = NpgsqlDataSource.Create(connectionString);
        var stored = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = data.CreateCommand("SELECT delivery_id FROM deliveries"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored.Add(reader.GetString(0));
            }
        }
        await using var count = data.CreateCommand("SELECT count(*) FROM deliveries WHERE delivery_id = $1");
        count.Parameters.Add(new NpgsqlParameter { Value = redeliveryId });
        var redeliveryRows = Convert.ToInt32(await count.ExecuteScalarAsync(), CultureInfo.InvariantCulture);

        var audit = new DeliveryAudit(target, acknowledged.Count, stored.Count - redeliveryRows, acknowledged.Count(id => !stored.Contains(id)),
            redeliveryRows, first.Accepted && second.Accepted);
        Log($"{target}: audit {audit}");
        return audit;
    }

    private static Task<ChildProcess> StartBareAsync(string work)
    {
        // Re-invoke this same program: `dotnet webhook-load.dll --bare` or the apphost directly.
        var self = Environment.ProcessPath!;
        var dll = typeof(Harness).Assembly.Location;
        return Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? ChildProcess.StartAsync("bare", self, [dll, "--bare"], new Dictionary<string, string>(), work)
            : ChildProcess.StartAsync("bare", self, ["--bare"], new Dictionary<string, string>(), work);
    }

    private static Dictionary<string, string> AppEnvironment(string work, string role, string secret, string connectionString)
    {
        var keyPath = Path.Combine(work, "app-key.pem");
        if (!File.Exists(keyPath))
        {
            using var rsa = RSA.Create(2048);
            File.WriteAllText(keyPath, rsa.ExportRSAPrivateKeyPem());
        }
        // Nothing answers on this port: GitHub calls from jobs fail fast on loopback and never leave the machine.
        var deadGitHub = $"http://127.0.0.1:{ChildProcess.FreeLoopbackPort()}/";
        return new Dictionary<string, string>
        {
            ["GitHub__AppId"] = "1",
            ["GitHub__PrivateKeyPath"] = keyPath,
            ["GitHub__WebhookSecret"] = secret,
            ["GitHub__ApiUrl"] = deadGitHub,
            ["GitHub__GitUrl"] = deadGitHub,
            ["Database__ConnectionString"] = connectionString,
            ["Ensemble__Role"] = role,
            ["Ensemble__WorkDirectory"] = Path.Combine(work, "ensemble-" + role),
            ["Dashboard__Password"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
        };
    }

    private static string LoadAverage() => BenchMachine.LoadAverages()[0];

    private static Machine DescribeMachine() =>
        new(Environment.ProcessorCount, BenchMachine.CpuModel(), BenchMachine.MemoryMiB(), RuntimeInformation.OSDescription, Environment.Version.ToString());

    private static string Summary(PhaseResult p) => string.Create(CultureInfo.InvariantCulture,
        $"  {p.Target} {p.Load}: {p.Accepted}/{p.Sent} 2xx, {p.AchievedPerSecond:0}/s, p50 {p.Latency.P50:0.0} p99 {p.Latency.P99:0.0} max {p.Latency.Max:0.0} ms, CPU s target {p.Cpu.TargetSeconds:0.0} pg {p.Cpu.PostgresSeconds:0.0} harness {p.Cpu.HarnessSeconds:0.0}");

    private static void Log(string message) => Console.Error.WriteLine($"[webhook-load {DateTime.UtcNow:HH:mm:ss}] {message}");
}
