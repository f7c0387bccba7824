using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using Ensemble.App.Hosting;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Ensemble.Bench.PrThroughput;

/// <summary>The job the pickup benchmark enqueues: it only notes how long after its enqueue it started.</summary>
public static class PickupProbe
{
    private static readonly ConcurrentQueue<(string Tag, double Ms)> Samples = new();
    private static readonly SemaphoreSlim StartedSignal = new(0);

    /// <summary>Runs on a Hangfire worker; <paramref name="enqueuedAtTicks"/> is the enqueuer's UTC clock just before Enqueue.</summary>
    public static void Started(string tag, long enqueuedAtTicks)
    {
        Samples.Enqueue((tag, (DateTime.UtcNow.Ticks - enqueuedAtTicks) / (double)TimeSpan.TicksPerMillisecond));
        StartedSignal.Release();
    }

    public static Task<bool> WaitStartedAsync(TimeSpan timeout) => StartedSignal.WaitAsync(timeout);

    public static IReadOnlyList<double> Take(string tag) => [.. Samples.Where(s => s.Tag == tag).Select(s => s.Ms)];

    public static int Count(string tag) => Samples.Count(s => s.Tag == tag);
}

/// <summary>
/// Part (b): how long a job waits between its enqueue and the start of its execution on an idle Hangfire.PostgreSql
/// server, with Ensemble's storage (taken from the real host's container) and with the package's defaults.
/// </summary>
public static class Pickup
{
    public sealed record Sample(string Settings, string Enqueuer, int Jobs, int Started, double P50, double P95, double Max, double Mean, int OverOneSecond, double EnqueueCallP50);

    public sealed record Result(IReadOnlyList<Sample> Samples, IReadOnlyDictionary<string, string> Options, int Workers);

    public static async Task<Result> RunAsync(BenchOptions options)
    {
        var work = Directory.CreateTempSubdirectory("pr-pickup-");
        var workers = options.Workers ?? new Ensemble.Jobs.Jobs.EnsembleOptions().Workers;
        var samples = new List<Sample>();
        var described = new Dictionary<string, string>();
        // Hosts stay alive to the end: Hangfire's static log provider keeps the first host's logger factory.
        var hosts = new List<WebApplication>();
        foreach (var settings in new[] { "ensemble", "default" })
        {
            var connectionString = await Databases.CreateAsync(options.Postgres, "pr_pickup_" + settings);
            var (storage, host) = await StorageAsync(settings, connectionString, work.FullName, "worker");
            described[settings] = Describe(storage);
            Log.Line($"pickup, {settings} settings: {described[settings]}; {workers} workers");
            using (var server = new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = workers, ServerName = "pickup-" + settings }, storage))
            {
                var client = new BackgroundJobClient(storage);
                await Task.Delay(2000);
                await ClosedLoopAsync(client, settings + "-warmup", 5);

                var jobs = settings == "ensemble" ? options.PickupJobs : options.PickupDefaultJobs;
                var callTimes = await ClosedLoopAsync(client, settings + "-same", jobs);
                samples.Add(Summarise(settings, "same process (closed loop)", settings + "-same", jobs, callTimes));
                Log.Line(Describe(samples[^1]));

                var tag = settings + "-other";
                await EnqueueFromChildAsync(settings, connectionString, tag, jobs, options.PickupIntervalMs, work.FullName);
                var wait = Stopwatch.StartNew();
                while (PickupProbe.Count(tag) < jobs && wait.Elapsed < TimeSpan.FromSeconds(40))
                {
                    await Task.Delay(100);
                }

                samples.Add(Summarise(settings, $"other process (open loop, 1 per {options.PickupIntervalMs} ms ± 50 %)", tag, jobs, []));
                Log.Line(Describe(samples[^1]));
            }

            if (host is not null)
            {
                hosts.Add(host);
            }
        }

        foreach (var host in hosts)
        {
            await host.DisposeAsync();
        }

        try
        {
            work.Delete(recursive: true);
        }
        catch (IOException)
        {
            // Leftovers in the temp directory are harmless.
        }

        return new Result(samples, described, workers);
    }

    /// <summary>One job at a time: enqueue, wait for it to start, pause a little so every worker is idle again.</summary>
    private static async Task<IReadOnlyList<double>> ClosedLoopAsync(BackgroundJobClient client, string tag, int count)
    {
        var calls = new List<double>();
        for (var i = 0; i < count; i++)
        {
            var at = DateTime.UtcNow.Ticks;
            var start = Stopwatch.GetTimestamp();
            client.Enqueue(() => PickupProbe.Started(tag, at));
            calls.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (!await PickupProbe.WaitStartedAsync(TimeSpan.FromSeconds(30)))
            {
                Log.Line($"{tag}: job {i} did not start within 30 s");
            }

            await Task.Delay(Random.Shared.Next(20, 120));
        }

        return calls;
    }

    /// <summary>
    /// The enqueue from another process, as the web role's outbox (or another worker) does: this program again, with
    /// <c>pickup-enqueue</c>, so the in-process wake-up Hangfire.PostgreSql gives a same-process enqueue plays no part.
    /// </summary>
    private static async Task EnqueueFromChildAsync(string settings, string connectionString, string tag, int count, int intervalMs, string work)
    {
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(Pickup).Assembly.Location);
        }

        foreach (var a in new[] { "pickup-enqueue", settings, connectionString, tag, count.ToString(CultureInfo.InvariantCulture), intervalMs.ToString(CultureInfo.InvariantCulture), work })
        {
            info.ArgumentList.Add(a);
        }

        using var child = Process.Start(info) ?? throw new InvalidOperationException("could not start the enqueuing process");
        await child.WaitForExitAsync();
        if (child.ExitCode != 0)
        {
            throw new InvalidOperationException($"the enqueuing process exited with {child.ExitCode}");
        }
    }

    /// <summary>Entry of the child: enqueue <paramref name="count"/> probes at about one per <paramref name="intervalMs"/>.</summary>
    public static async Task<int> EnqueueMainAsync(string settings, string connectionString, string tag, int count, int intervalMs, string work)
    {
        var (storage, host) = await StorageAsync(settings, connectionString, work, "web");
        var client = new BackgroundJobClient(storage);
        for (var i = 0; i < count; i++)
        {
            var at = DateTime.UtcNow.Ticks;
            client.Enqueue(() => PickupProbe.Started(tag, at));
            await Task.Delay(intervalMs / 2 + Random.Shared.Next(intervalMs + 1));
        }

        if (host is not null)
        {
            await host.DisposeAsync();
        }

        return 0;
    }

    /// <summary>Ensemble's storage exactly as the App builds it (its container, not a copy of its options), or the package's defaults.</summary>
    private static async Task<(JobStorage Storage, WebApplication? Host)> StorageAsync(string settings, string connectionString, string work, string role)
    {
        if (settings == "default")
        {
            var defaults = new PostgreSqlStorageOptions();
            return (new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, defaults, _ => { }), defaults), null);
        }

        using var rsa = RSA.Create(2048);
        var config = new Dictionary<string, string?>
        {
            ["GitHub:AppId"] = "1",
            ["GitHub:PrivateKey"] = rsa.ExportRSAPrivateKeyPem(),
            ["GitHub:WebhookSecret"] = "pickup",
            ["Database:ConnectionString"] = connectionString,
            ["Ensemble:WorkDirectory"] = Path.Combine(work, "ensemble-" + role),
            ["Ensemble:Role"] = role,
            ["Terraform:Runner"] = "process",
            ["Dashboard:Password"] = "pickup-dashboard",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var host = await EnsembleApp.BuildAsync([], c => c.AddInMemoryCollection(config));
        return (host.Services.GetRequiredService<JobStorage>(), host);
    }

    private static string Describe(JobStorage storage)
    {
        // PostgreSqlStorage keeps its options non-public in this version; read them only to print what was measured.
        var options = storage.GetType().GetProperty("Options", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Instance)?.GetValue(storage) as PostgreSqlStorageOptions;
        return options is null
            ? storage.GetType().Name
            : string.Create(CultureInfo.InvariantCulture,
                $"EnableLongPolling={options.EnableLongPolling}, QueuePollInterval={options.QueuePollInterval.TotalSeconds} s, InvisibilityTimeout={options.InvisibilityTimeout.TotalMinutes} min, UseSlidingInvisibilityTimeout={options.UseSlidingInvisibilityTimeout}");
    }

    private static Sample Summarise(string settings, string enqueuer, string tag, int jobs, IReadOnlyList<double> calls)
    {
        var ms = PickupProbe.Take(tag);
        return new Sample(settings, enqueuer, jobs, ms.Count, Stats.Percentile(ms, 50), Stats.Percentile(ms, 95), ms.Count > 0 ? ms.Max() : double.NaN,
            ms.Count > 0 ? ms.Average() : double.NaN, ms.Count(m => m > 1000), calls.Count > 0 ? Stats.Median(calls) : double.NaN);
    }

    private static string Describe(Sample s) => string.Create(CultureInfo.InvariantCulture,
        $"{s.Settings}, {s.Enqueuer}: {s.Started}/{s.Jobs} started, pickup p50 {s.P50:0.0} ms p95 {s.P95:0.0} ms max {s.Max:0.0} ms mean {s.Mean:0.0} ms, >1 s: {s.OverOneSecond}");
}
