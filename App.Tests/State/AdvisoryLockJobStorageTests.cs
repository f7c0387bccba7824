using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;

namespace Ensemble.Tests.State;

/// <summary>Hangfire's locks as PostgreSQL advisory locks, against a real PostgreSQL and Hangfire.PostgreSql.</summary>
[Trait("Category", Categories.Integration)]
public sealed class AdvisoryLockJobStorageTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private static AdvisoryLockJobStorage Storage(string connectionString)
    {
        var options = new PostgreSqlStorageOptions { PrepareSchemaIfNecessary = true };
        return new AdvisoryLockJobStorage(new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options), connectionString);
    }

    [Fact]
    public async Task AcquireDistributedLock_HeldByAnotherConnection_TimesOutThenIsTakenOnceReleased()
    {
        var database = await postgres.CreateDatabaseAsync();
        using var storage = Storage(database);
        using var workerA = storage.GetConnection();
        using var workerB = storage.GetConnection();

        var held = workerA.AcquireDistributedLock("job:1:state-lock", TimeSpan.FromSeconds(5));

        Assert.Throws<DistributedLockTimeoutException>(() => workerB.AcquireDistributedLock("job:1:state-lock", TimeSpan.FromMilliseconds(300)));
        using (workerB.AcquireDistributedLock("job:2:state-lock", TimeSpan.FromMilliseconds(300)))
        {
            // Another job's lock is another lock.
        }

        // B waits while A still holds it, and gets it once A lets go.
        var waiting = Task.Run(() => workerB.AcquireDistributedLock("job:1:state-lock", TimeSpan.FromSeconds(30)));
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted, "the lock was granted while another connection held it");
        held.Dispose();
        held.Dispose(); // a second release must not free a lock someone else took since
        using var taken = await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Throws<DistributedLockTimeoutException>(() => workerA.AcquireDistributedLock("job:1:state-lock", TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task AcquireDistributedLock_HolderSessionEnds_LockIsFreeAtOnceAndItsReleaseDoesNotThrow()
    {
        var database = await postgres.CreateDatabaseAsync();
        using var storage = Storage(database);
        using var dying = storage.GetConnection();
        using var survivor = storage.GetConnection();
        var held = dying.AcquireDistributedLock("job:7:state-lock", TimeSpan.FromSeconds(5));

        // A worker killed while it changed a job's state.
        await PostgresFixture.EndSessionsHoldingAdvisoryLocksAsync(database);

        // Hangfire.PostgreSql's lock row would hold the job for DistributedLockTimeout (10 min).
        using (survivor.AcquireDistributedLock("job:7:state-lock", TimeSpan.FromSeconds(10)))
        {
        }

        held.Dispose();
        using var again = survivor.AcquireDistributedLock("job:7:state-lock", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Hangfire_StateChangesWaitForTheJobsAdvisoryLock_AndJobsShowAsUsual()
    {
        var database = await postgres.CreateDatabaseAsync();
        using var storage = Storage(database);
        var client = new BackgroundJobClient(storage);
        var id = client.Create(() => Console.WriteLine("planned"), new ScheduledState(TimeSpan.FromHours(1)));

        // Another worker in the middle of this job's state change holds its lock: this change waits for it.
        using var other = storage.GetConnection();
        var held = other.AcquireDistributedLock($"job:{id}:state-lock", TimeSpan.FromSeconds(5));
        var change = Task.Run(() => client.ChangeState(id, new EnqueuedState(), ScheduledState.StateName));
        await Task.Delay(300);
        Assert.False(change.IsCompleted, "the state changed while another connection held the job's lock");
        held.Dispose();
        Assert.True(await change.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.False(client.ChangeState(id, new DeletedState(), ScheduledState.StateName), "a change from a state the job left is refused");
        Assert.True(client.Delete(id));
        var details = storage.GetMonitoringApi().JobDetails(id);
        Assert.Equal([DeletedState.StateName, EnqueuedState.StateName, ScheduledState.StateName], details.History.Select(h => h.StateName));
    }
}
