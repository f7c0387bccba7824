using Ensemble.App.Hosting;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;
using Hangfire;
using Hangfire.Common;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;
using Npgsql;

namespace Ensemble.Tests.State;

/// <summary>
/// A job's state changes written in one batch, against a real PostgreSQL and Hangfire.PostgreSql: the same rows as
/// Hangfire.PostgreSql writes, all or nothing, and an enqueued job still wakes a waiting worker.
/// </summary>
[Trait("Category", Categories.Integration)]
public sealed class BatchedWriteTransactionTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private static PostgreSqlStorageOptions Options(TimeSpan? poll = null) => new()
    {
        PrepareSchemaIfNecessary = true,
        EnableLongPolling = true,
        QueuePollInterval = poll ?? TimeSpan.FromSeconds(15),
    };

    private static JobStorage PlainStorage(string connectionString)
    {
        var options = Options();
        return new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
    }

    private static AdvisoryLockJobStorage BatchedStorage(string connectionString, TimeSpan? poll = null) =>
        StateAndJobs.PostgresJobStorage(connectionString, Options(poll));

    /// <summary>A job's life as a worker writes it (enqueued, processing, succeeded, out of the queue) and one scheduled job.</summary>
    private static async Task LifecycleAsync(JobStorage storage)
    {
        var client = new BackgroundJobClient(storage);
        using (new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = 1 }, storage))
        {
            await SucceededAsync(storage, client.Enqueue(() => Console.WriteLine("plan")));
        }

        client.Create(() => Console.WriteLine("later"), new ScheduledState(TimeSpan.FromHours(1)));
        using var connection = storage.GetConnection();
        connection.CreateExpiredJob(Job.FromExpression(() => Console.WriteLine("with parameters")),
            new Dictionary<string, string> { ["Owner"] = "octo-org", ["RetryCount"] = "1" }, DateTime.UtcNow, TimeSpan.FromHours(2));
        connection.CreateExpiredJob(Job.FromExpression(() => Console.WriteLine("without")), new Dictionary<string, string>(), DateTime.UtcNow, TimeSpan.FromHours(2));
    }

    private static async Task SucceededAsync(JobStorage storage, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        using var connection = storage.GetConnection();
        while (connection.GetJobData(id).State != SucceededState.StateName)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the job is still {connection.GetJobData(id).State} 30 s after it was enqueued");
            await Task.Delay(50);
        }
    }

    /// <summary>What a user of the dashboard and Hangfire's housekeeping see, without ids and clock readings.</summary>
    private static async Task<List<string>> RowsAsync(string connectionString)
    {
        await using var data = NpgsqlDataSource.Create(connectionString);
        var rows = new List<string>();
        async Task Read(string sql)
        {
            await using var command = data.CreateCommand(sql);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add(string.Join(" | ", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "null" : reader.GetValue(i).ToString())));
            }
        }

        await Read("""
            SELECT j.invocationdata::text, j.arguments::text, j.statename, j.expireat IS NULL, round(extract(epoch FROM j.expireat - now()) / 3600), s.name, s.reason,
                (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(s.data) k)
            FROM hangfire.job j JOIN hangfire.state s ON s.jobid = j.id ORDER BY j.id, s.id
            """);
        await Read("SELECT j.statename, q.queue, q.fetchedat IS NULL FROM hangfire.jobqueue q JOIN hangfire.job j ON j.id = q.jobid ORDER BY q.id");
        await Read("SELECT key, sum(value), bool_or(expireat IS NULL), round(max(extract(epoch FROM expireat - now())) / 3600) FROM hangfire.counter GROUP BY key ORDER BY key");
        await Read("SELECT key, value IS NOT NULL FROM hangfire.set ORDER BY key");
        await Read("SELECT p.name, p.value, coalesce(j.statename, 'null') FROM hangfire.jobparameter p JOIN hangfire.job j ON j.id = p.jobid ORDER BY p.jobid, p.name");
        await Read("SELECT j.invocationdata::text, j.arguments::text, round(extract(epoch FROM j.expireat - j.createdat) / 60) FROM hangfire.job j WHERE j.stateid IS NULL ORDER BY j.id");
        return rows;
    }

    [Fact]
    public async Task StateChanges_WriteTheSameRowsAsHangfirePostgreSql()
    {
        var plain = await postgres.CreateDatabaseAsync();
        var batched = await postgres.CreateDatabaseAsync();
        await LifecycleAsync(PlainStorage(plain));
        using (var storage = BatchedStorage(batched))
        {
            await LifecycleAsync(storage);
        }

        var expected = await RowsAsync(plain);
        Assert.Contains(expected, r => r.Contains("plan", StringComparison.Ordinal) && r.Contains(" | Succeeded | False | 24 | Succeeded", StringComparison.Ordinal));
        Assert.Contains("Owner | octo-org | null", expected);
        Assert.Contains(expected, r => r.StartsWith("stats:succeeded | 1 | True", StringComparison.Ordinal));
        Assert.Equal(expected, await RowsAsync(batched));
    }

    [Fact]
    public async Task Commit_AFailingStatement_WritesNothingOfTheBatch()
    {
        var database = await postgres.CreateDatabaseAsync();
        using var storage = BatchedStorage(database);
        var client = new BackgroundJobClient(storage);
        var id = client.Create(() => Console.WriteLine("plan"), new EnqueuedState("default"));
        var before = await RowsAsync(database);

        using (var connection = storage.GetConnection())
        using (var transaction = connection.CreateWriteTransaction())
        {
            transaction.SetJobState(id, new DeletedState());
            transaction.PersistJob(id);
            transaction.IncrementCounter(null!); // the counter's key may not be null: the last statement fails
            Assert.ThrowsAny<PostgresException>(transaction.Commit);
        }

        Assert.Equal(before, await RowsAsync(database));
        Assert.Equal(EnqueuedState.StateName, storage.GetConnection().GetJobData(id).State);
    }

    [Fact]
    public async Task Enqueue_WakesAWaitingWorkerWithoutWaitingForThePoll()
    {
        var database = await postgres.CreateDatabaseAsync();
        // A poll of ten minutes: only the notification of the batched enqueue can start the job within the test.
        using var storage = BatchedStorage(database, poll: TimeSpan.FromMinutes(10));
        using var server = new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = 1, SchedulePollingInterval = TimeSpan.FromMinutes(10) }, storage);
        await Task.Delay(500); // the worker is waiting for work

        await SucceededAsync(storage, new BackgroundJobClient(storage).Enqueue(() => Console.WriteLine("plan")));
    }
}
