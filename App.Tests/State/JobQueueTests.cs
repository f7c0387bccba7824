using System.Collections.Concurrent;
using Ensemble.App.Hosting;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.Storage;
using Npgsql;

namespace Ensemble.Tests.State;

/// <summary>
/// Workers fetching from Hangfire.PostgreSql's queue through Ensemble's own fetch, against a real PostgreSQL: every job
/// to exactly one worker, held while its worker lives, taken over when it dies, woken by an enqueue in any process.
/// </summary>
[Trait("Category", Categories.Integration)]
public sealed class JobQueueTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private static PostgreSqlStorageOptions Options(TimeSpan poll, TimeSpan invisibility, bool sliding = true) => new()
    {
        PrepareSchemaIfNecessary = true,
        EnableLongPolling = true,
        QueuePollInterval = poll,
        InvisibilityTimeout = invisibility,
        UseSlidingInvisibilityTimeout = sliding,
    };

    private static AdvisoryLockJobStorage Storage(string database, TimeSpan poll, TimeSpan? invisibility = null, bool sliding = true) =>
        StateAndJobs.PostgresJobStorage(database, Options(poll, invisibility ?? TimeSpan.FromMinutes(1), sliding));

    private static string Enqueue(JobStorage storage, string name) => new BackgroundJobClient(storage).Enqueue(() => Console.WriteLine(name));

    private static Task<IFetchedJob> FetchAsync(JobStorage storage, CancellationToken cancellationToken = default) =>
        Task.Run(() =>
        {
            using var connection = storage.GetConnection();
            return connection.FetchNextJob(["default"], cancellationToken);
        }, CancellationToken.None);

    private static async Task<List<string>> QueueAsync(string database)
    {
        await using var data = NpgsqlDataSource.Create(database);
        await using var command = data.CreateCommand("SELECT jobid::text || CASE WHEN fetchedat IS NULL THEN ' waiting' ELSE ' fetched' END FROM hangfire.jobqueue ORDER BY jobid");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    [Fact]
    public async Task Fetch_FourWorkersAtOnce_EveryJobGoesToExactlyOneWorkerInQueueOrder()
    {
        var database = await postgres.CreateDatabaseAsync();
        using var storage = Storage(database, poll: TimeSpan.FromMilliseconds(200));
        var enqueued = Enumerable.Range(0, 40).Select(i => Enqueue(storage, $"plan {i}")).ToList();

        var fetched = new ConcurrentQueue<string>();
        using var drained = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            using var connection = storage.GetConnection();
            try
            {
                while (true)
                {
                    using var job = connection.FetchNextJob(["default"], drained.Token);
                    fetched.Enqueue(job.JobId);
                    job.RemoveFromQueue();
                    if (fetched.Count >= enqueued.Count)
                    {
                        drained.Cancel(); // the others stop waiting
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })).ToList();
        await Task.WhenAll(workers);

        Assert.Equal(enqueued.Order(), fetched.Order());
        Assert.Empty(await QueueAsync(database));

        // One worker alone takes them oldest first.
        var later = Enumerable.Range(0, 3).Select(i => Enqueue(storage, $"later {i}")).ToList();
        foreach (var id in later)
        {
            using var job = await FetchAsync(storage);
            Assert.Equal(id, job.JobId);
            job.RemoveFromQueue();
        }
    }

    [Fact]
    public async Task Fetch_AnotherWorkerInTheMiddleOfFetchingTheFirstJob_TakesTheNextWithoutWaiting()
    {
        var database = await postgres.CreateDatabaseAsync();
        using var storage = Storage(database, poll: TimeSpan.FromMinutes(10));
        var first = Enqueue(storage, "first");
        var second = Enqueue(storage, "second");

        // Another worker's fetch holds the first entry's row until its transaction ends.
        await using var data = NpgsqlDataSource.Create(database);
        await using var other = await data.OpenConnectionAsync();
        await using var fetching = await other.BeginTransactionAsync();
        await using (var claim = new NpgsqlCommand($"SELECT id FROM hangfire.jobqueue WHERE jobid = {first} FOR UPDATE", other, fetching))
        {
            await claim.ExecuteScalarAsync();
        }

        var fetch = FetchAsync(storage);
        var finished = await Task.WhenAny(fetch, Task.Delay(TimeSpan.FromSeconds(30)));
        await fetching.RollbackAsync();

        Assert.True(finished == fetch, "the fetch waited for another worker's fetch instead of taking the next job");
        Assert.Equal(second, (await fetch).JobId);
    }

    [Fact]
    public async Task FetchedJob_RemovedRequeuedOrLetGo_LeavesTheQueueAsAWorkerExpects()
    {
        var database = await postgres.CreateDatabaseAsync();
        using var storage = Storage(database, poll: TimeSpan.FromMilliseconds(200));
        var done = Enqueue(storage, "done");
        var retried = Enqueue(storage, "retried");
        var third = Enqueue(storage, "third");

        using (var job = await FetchAsync(storage))
        {
            Assert.Equal(done, job.JobId);
            Assert.Contains($"{done} fetched", await QueueAsync(database));
            job.RemoveFromQueue();
        }

        using (var job = await FetchAsync(storage))
        {
            Assert.Equal(retried, job.JobId);
            job.Requeue();
        }

        // A requeued job waits again, in its place: before the younger one.
        var again = await FetchAsync(storage);
        var next = await FetchAsync(storage);
        Assert.Equal([retried, third], [again.JobId, next.JobId]);
        Assert.Equal([$"{retried} fetched", $"{third} fetched"], await QueueAsync(database));

        // A worker that stops without finishing its job lets go of it.
        again.Dispose();
        next.Dispose();
        Assert.Equal([$"{retried} waiting", $"{third} waiting"], await QueueAsync(database));
    }

    [Fact]
    public async Task Invisibility_ALiveWorkersJobIsNeverTakenOver_ADeadWorkersIsAfterTheTimeout()
    {
        var database = await postgres.CreateDatabaseAsync();
        // Renewed every 0.8 s: a renewal would have to be 3 s late (a loaded test machine) for the live job to be lost.
        var invisibility = TimeSpan.FromSeconds(4);
        // A worker whose job is renewed every fifth of the timeout, and one that stopped renewing (it died).
        using var live = Storage(database, poll: TimeSpan.FromMilliseconds(100), invisibility);
        using var dead = Storage(database, poll: TimeSpan.FromMilliseconds(100), invisibility, sliding: false);
        var running = Enqueue(live, "long plan");
        using var held = await FetchAsync(live);
        Assert.Equal(running, held.JobId);
        var orphaned = Enqueue(dead, "orphaned plan");
        var lost = await FetchAsync(dead);
        Assert.Equal(orphaned, lost.JobId);

        // Another worker looks for two and a half timeouts: it gets the dead worker's job, never the live one's.
        using var looking = new CancellationTokenSource(invisibility * 2.5);
        var takenOver = new List<string>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            while (true)
            {
                var job = await FetchAsync(live, looking.Token);
                takenOver.Add(job.JobId);
            }
        });

        Assert.Equal([orphaned], takenOver);
        held.RemoveFromQueue();
        Assert.Equal([$"{orphaned} fetched"], await QueueAsync(database));
    }

    [Fact]
    public async Task Fetch_WaitingWorker_IsWokenByAnEnqueueInAnotherProcess_AlsoAfterItsListenerLostItsConnection()
    {
        var database = await postgres.CreateDatabaseAsync();
        // A poll of ten minutes: only the notification can end the wait within the test.
        using var storage = Storage(database, poll: TimeSpan.FromMinutes(10));
        var options = Options(TimeSpan.FromSeconds(15), TimeSpan.FromMinutes(1));
        var otherProcess = new PostgreSqlStorage(new NpgsqlConnectionFactory(database, options), options);

        var waiting = FetchAsync(storage);
        await Task.Delay(500);
        Assert.False(waiting.IsCompleted);
        var first = Enqueue(otherProcess, "first");
        Assert.Equal(first, (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).JobId);

        // The listening connection dies (a database restart, a proxy's idle timeout): the listener listens again.
        await using (var data = NpgsqlDataSource.Create(database))
        await using (var kill = data.CreateCommand("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND query = 'LISTEN new_job' AND pid <> pg_backend_pid()
            """))
        {
            Assert.Equal(1L, await kill.ExecuteScalarAsync());
        }

        waiting = FetchAsync(storage);
        await Task.Delay(2_000);
        var second = Enqueue(otherProcess, "second");
        Assert.Equal(second, (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).JobId);
    }

    [Fact]
    public async Task Fetch_ServerStopping_EndsTheWaitAtOnce()
    {
        var database = await postgres.CreateDatabaseAsync();
        using var storage = Storage(database, poll: TimeSpan.FromMinutes(10));
        using var stopping = new CancellationTokenSource();
        var waiting = FetchAsync(storage, stopping.Token);
        await Task.Delay(300);

        await stopping.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
