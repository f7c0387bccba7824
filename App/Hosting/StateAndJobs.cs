using System.Globalization;
using Ensemble.App.Dashboard;
using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.Jobs;
using Ensemble.Jobs.State;
using Ensemble.Jobs.Terraform;
using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.Options;

namespace Ensemble.App.Hosting;

public static class StateAndJobs
{
    /// <summary>State in PostgreSQL when <c>Database:ConnectionString</c> is set, else the embedded SQLite file.</summary>
    public static IServiceCollection AddEnsembleState(this IServiceCollection services, IConfiguration configuration)
    {
        var connectionString = configuration["Database:ConnectionString"];
        services.AddSingleton(sp =>
        {
            if (!string.IsNullOrWhiteSpace(connectionString))
            {
                return SqlStateStore.ForPostgres(connectionString);
            }

            var work = sp.GetRequiredService<IOptions<EnsembleOptions>>().Value.WorkDirectory;
            return SqlStateStore.ForSqlite(Path.Combine(Path.GetFullPath(work), "state", "ensemble.db"));
        });
        services.AddSingleton<IStateStore>(sp => sp.GetRequiredService<SqlStateStore>());
        return services;
    }

    /// <summary>Artifacts in S3 when <c>Artifacts:S3:Bucket</c> is set, else under <c>Artifacts:Directory</c>.</summary>
    public static IServiceCollection AddEnsembleArtifacts(this IServiceCollection services, IConfiguration configuration)
    {
        var s3 = configuration.GetSection("Artifacts:S3");
        services.AddSingleton<IArtifactStore>(sp =>
        {
            if (!string.IsNullOrWhiteSpace(s3["Bucket"]))
            {
                return new S3ArtifactStore(new S3ArtifactOptions(s3["Bucket"]!, NullIfEmpty(s3["ServiceUrl"]), NullIfEmpty(s3["Region"]))
                {
                    AccessKey = NullIfEmpty(s3["AccessKey"]),
                    SecretKey = NullIfEmpty(s3["SecretKey"]),
                    ServerSideEncryption = bool.TryParse(s3["ServerSideEncryption"], out var sse) ? sse : string.IsNullOrEmpty(s3["ServiceUrl"]),
                });
            }

            var work = sp.GetRequiredService<IOptions<EnsembleOptions>>().Value.WorkDirectory;
            var directory = configuration["Artifacts:Directory"];
            return new FileArtifactStore(string.IsNullOrWhiteSpace(directory) ? Path.Combine(Path.GetFullPath(work), "artifacts") : directory);
        });
        return services;
    }

    /// <summary>Hangfire storage, the worker server (roles all/worker) and the jobs with what they run.</summary>
    public static IServiceCollection AddEnsembleJobs(this IServiceCollection services, IConfiguration configuration)
    {
        var ensemble = configuration.GetSection(EnsembleOptions.Section).Get<EnsembleOptions>() ?? new EnsembleOptions();
        var connectionString = configuration["Database:ConnectionString"];
        if (ensemble.JobInvisibilityTimeout < TimeSpan.FromSeconds(2))
        {
            throw new EnsembleConfigurationException(
                [$"Ensemble:JobInvisibilityTimeout must be at least 2 seconds (got {ensemble.JobInvisibilityTimeout}); the default is 00:01:00."]);
        }

        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            // Disposed with the host, after the Hangfire server (a hosted service) has stopped.
            services.AddSingleton(_ => PostgresJobStorage(connectionString, ensemble));
        }

        services.AddHangfire((provider, config) =>
        {
            config.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings()
                // Lets a job waiting for a repository slot reschedule itself instead of holding its worker.
                .UseFilter(new CurrentJob());
            // Two of Hangfire's default filters cost each job (each plan is one) statements for nothing here. Jobs run
            // in the process's culture — Ensemble formats nothing culture-dependent in jobs — so no culture is stored
            // with a job nor read back before it runs (two parameter rows and two reads). No job continues another (no
            // ContinueJobWith anywhere), so no finished job looks its continuations up (one read).
            GlobalJobFilters.Filters.Remove(typeof(CaptureCultureAttribute));
            GlobalJobFilters.Filters.Remove(typeof(ContinuationsSupportAttribute));
            if (!string.IsNullOrWhiteSpace(connectionString))
            {
                config.UseStorage(provider.GetRequiredService<AdvisoryLockJobStorage>());
            }
            else
            {
                config.UseInMemoryStorage();
            }
        });

        if (ensemble.RunsWorker)
        {
            // Registered before the Hangfire server, so it stops after it: the last jobs' discovery cache writes finish.
            services.AddHostedService<DiscoveryCacheFlush>();
            services.AddHangfireServer(options =>
            {
                options.WorkerCount = ensemble.Workers;
                options.ServerName = $"ensemble-{Environment.MachineName}-{Environment.ProcessId}";
                options.ShutdownTimeout = TimeSpan.FromSeconds(30);
                // Runs waiting for a repository slot come back as scheduled jobs: look for due ones often.
                options.SchedulePollingInterval = RepositoryRunSlots.RetryDelay;
            });
        }

        services.AddOptions<EnsembleOptions>().BindConfiguration(EnsembleOptions.Section);
        services.AddOptions<TerraformOptions>().BindConfiguration(TerraformOptions.Section);
        services.AddSingleton(sp =>
        {
            var work = sp.GetRequiredService<IOptions<EnsembleOptions>>().Value.WorkDirectory;
            var gitUrl = configuration["GitHub:GitUrl"] is { Length: > 0 } url ? url : "https://github.com/";
            return new GitMirrorOptions(Path.GetFullPath(work), gitUrl);
        });
        services.AddSingleton<GitMirror>();
        services.AddSingleton<ProjectFinder>();
        services.AddSingleton(_ => string.IsNullOrWhiteSpace(connectionString)
            ? RepositoryRunSlots.InProcess()
            : RepositoryRunSlots.ForPostgres(connectionString));
        services.AddSingleton<ProjectInputs>();
        services.AddSingleton<PlanExecution>();
        services.AddSingleton<ITerraformRunner>(sp => TerraformRunnerFactory.Create(
            sp.GetRequiredService<IOptions<TerraformOptions>>().Value,
            Path.GetFullPath(sp.GetRequiredService<IOptions<EnsembleOptions>>().Value.WorkDirectory),
            sp.GetService<ILoggerFactory>(),
            EnsembleConfiguration.ProtectedPaths(configuration, ensemble)));
        services.AddSingleton(sp => new SecretMasker(KnownSecrets(configuration)));
        services.AddSingleton<AggregatePublisher>();
        services.AddSingleton<ProjectCheckRuns>();
        services.AddSingleton<PermissionCache>();
        services.AddSingleton<ApproverRequirements>();
        services.AddSingleton<RepoConfigs>();
        services.AddTransient<Interactions>();
        services.AddTransient<Replans>();
        services.AddTransient<PublishMemos>();
        services.AddTransient<BaseMoveJob>();
        services.AddTransient<DeliveryJob>();
        services.AddTransient<DiscoverJob>();
        services.AddTransient<PlanJob>();
        services.AddSingleton<ApplyDependencies>();
        services.AddTransient<ApplyReporter>();
        services.AddTransient<ApplyCoordinator>();
        services.AddTransient<ApplyJob>();
        services.AddTransient<ApplyFallback>();
        services.AddTransient<ApplyFallbackPlanJob>();
        services.AddHostedService<RecoveryService>();
        services.AddSingleton<DeliveryDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<DeliveryDispatcher>());
        return services;
    }

    /// <summary>Hangfire.PostgreSql, tuned for plan jobs, its locks taken as advisory locks (<see cref="AdvisoryLockJobStorage"/>).</summary>
    private static AdvisoryLockJobStorage PostgresJobStorage(string connectionString, EnsembleOptions ensemble)
    {
        var options = new PostgreSqlStorageOptions
        {
            // LISTEN/NOTIFY starts a job in milliseconds instead of the 15 s default poll.
            EnableLongPolling = true,
            // A killed worker's job is taken over after InvisibilityTimeout of silence, not 30 min.
            UseSlidingInvisibilityTimeout = true,
            InvisibilityTimeout = ensemble.JobInvisibilityTimeout,
            // The poll finds what no notification announces: a dead worker's job once its invisibility ends, and a job
            // enqueued while the listener was reconnecting — 2 s at most, not the 15 s default.
            QueuePollInterval = TimeSpan.FromSeconds(Math.Clamp(ensemble.JobInvisibilityTimeout.TotalSeconds / 10, 1, 2)),
            PrepareSchemaIfNecessary = true,
        };

        return PostgresJobStorage(connectionString, options);
    }

    /// <summary>
    /// Ensemble's Hangfire storage on <paramref name="connectionString"/>'s database for Hangfire.PostgreSql built with
    /// <paramref name="options"/>: what the App runs (and what the storage tests run against).
    /// </summary>
    public static AdvisoryLockJobStorage PostgresJobStorage(string connectionString, PostgreSqlStorageOptions options)
    {
        // Hangfire's pooled connections skip Npgsql's reset on return (DISCARD ALL, ≈ 12 statements a job) and prepare
        // its statements (PostgresPools). Hangfire.PostgreSql leaves no session state behind — its transactions end
        // (Npgsql rolls back any that did not), the locks it is asked for are AdvisoryLockJobStorage's, on connections
        // of their own, and its LISTEN is never sent: workers fetch and listen through Ensemble's JobQueue, on a
        // connection of its own. State changes are written in one round trip each (BatchedWriteTransaction), a fetch is
        // one statement (JobQueue).
        var hangfireConnection = PostgresPools.ConnectionString(connectionString);
        return new AdvisoryLockJobStorage(
            new PostgreSqlStorage(new Hangfire.PostgreSql.Factories.NpgsqlConnectionFactory(hangfireConnection, options), options),
            connectionString,
            new HangfireTables(options.SchemaName, options.EnableLongPolling, options.InvisibilityTimeout, options.UseSlidingInvisibilityTimeout,
                options.QueuePollInterval));
    }

    /// <summary>Every configured value that must never reach a log, an artifact or a check run.</summary>
    private static IEnumerable<string?> KnownSecrets(IConfiguration configuration)
    {
        yield return configuration["GitHub:WebhookSecret"];
        yield return configuration["GitHub:PrivateKey"];
        yield return configuration["Dashboard:Password"];
        yield return configuration["Artifacts:S3:SecretKey"];
        foreach (var value in TerraformEnvironment.SecretValues(configuration.GetSection(TerraformOptions.Section).Get<TerraformOptions>() ?? new TerraformOptions()))
        {
            yield return value;
        }

        if (configuration["Database:ConnectionString"] is { Length: > 0 } db)
        {
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(db);
            yield return builder.Password;
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

/// <summary>
/// With in-memory jobs (the embedded default) a restart forgets the queue, so unfinished work is re-enqueued from state:
/// deliveries recorded but not processed, and runs still queued or planning. With PostgreSQL, Hangfire keeps the queue.
/// </summary>
public sealed partial class RecoveryService(
    SqlStateStore state, IBackgroundJobClient jobs, ApplyCoordinator coordinator, TimeProvider time, IOptions<EnsembleOptions> options,
    ILogger<RecoveryService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!state.IsEmbedded || !options.Value.RunsWorker)
        {
            return;
        }

        // Their jobs died with the in-memory queue: back to the outbox, which the dispatcher drains.
        var deliveries = await state.ReleaseStaleDeliveriesAsync(time.GetUtcNow(), cancellationToken);

        var runs = await state.ListUnfinishedRunsAsync(cancellationToken);
        foreach (var run in runs)
        {
            // Post-merge plans live on a closed head of their own (docs/apply.md): they have their own job.
            var head = await state.GetHeadAsync(run.HeadId, cancellationToken);
            if (head?.Status == HeadStatus.Closed)
            {
                jobs.Enqueue<ApplyFallbackPlanJob>(job => job.RunAsync(run.Id, CancellationToken.None));
            }
            else
            {
                jobs.Enqueue<PlanJob>(job => job.RunAsync(run.Id, CancellationToken.None));
            }
        }

        // Applies of recorded merges: approved ones start again, ones caught applying are reported, never re-run.
        var applies = await coordinator.RecoverAsync(cancellationToken);

        if (deliveries + runs.Count + applies > 0)
        {
            LogRecovered(logger, deliveries, runs.Count, applies);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-enqueued unfinished work after a restart: {Deliveries} deliveries, {Runs} plans, {Applies} applies")]
    private static partial void LogRecovered(ILogger logger, int deliveries, int runs, int applies);
}

/// <summary>
/// On a graceful stop, waits (within the host's shutdown timeout) for the discovery disk cache writes that run in the
/// background, so the next start finds the merge bases this process listed. A write cut short is simply redone later.
/// </summary>
public sealed class DiscoveryCacheFlush(ProjectFinder finder) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await finder.FlushAsync().WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or UnauthorizedAccessException)
        {
            // Out of shutdown time, or the disk refused: the cache is complete or absent per entry, never torn.
        }
    }
}
