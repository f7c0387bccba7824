using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Hangfire;
using Hangfire.Common;
using Hangfire.Logging;
using Hangfire.Server;
using Hangfire.States;
using Hangfire.Storage;
using Npgsql;

namespace Ensemble.Jobs.State;

/// <summary>
/// Hangfire's PostgreSQL storage with its distributed locks taken as PostgreSQL session advisory locks instead of rows
/// of its <c>lock</c> table. Every job changes state twice under a lock (processing, then succeeded or failed), and
/// Hangfire.PostgreSql takes each in seven statements and three commits of its own (remove a stale row, insert the row,
/// delete it: a third of a plan job's statements, docs/benchmarks.md); an advisory lock is two statements and writes
/// nothing. It also dies with its session: a worker killed while holding a job's lock frees it at once, where a row
/// stayed until <c>DistributedLockTimeout</c> (10 min) and held that job's state until then. Optionally, the writes of a
/// state change go in one round trip too (<see cref="BatchedWriteTransaction"/>), and so does a worker's fetch
/// (<see cref="JobQueue"/>).
/// </summary>
/// <remarks>
/// Everything else is Hangfire.PostgreSql's, forwarded as it is. Its own background processes (expiration, counter
/// aggregation) lock through their own connections, so each resource keeps one kind of lock. Every Ensemble process of
/// a deployment must lock the same way: an upgrade from a version without this storage stops the old workers before
/// new ones start (docs/architecture.md).
/// </remarks>
public sealed class AdvisoryLockJobStorage : JobStorage, IDisposable
{
    private readonly JobStorage _inner;
    private readonly NpgsqlDataSource _locks;
    private readonly BatchedWriteTransaction.Target? _writes;
    private readonly JobQueue? _queue;

    /// <param name="inner">Hangfire.PostgreSql's storage.</param>
    /// <param name="connectionString">The same database's; each held lock has a connection of its own (<see cref="PostgresPools"/>),
    /// closed instead of returned whenever its unlock fails.</param>
    /// <param name="tables">When set, the settings <paramref name="inner"/> was built with: a state change is then written in
    /// one round trip (<see cref="BatchedWriteTransaction"/>) and a worker fetches its next job in one statement
    /// (<see cref="JobQueue"/>) instead of one per statement.</param>
    public AdvisoryLockJobStorage(JobStorage inner, string connectionString, HangfireTables? tables = null)
    {
        _inner = inner;
        _locks = PostgresPools.Create(connectionString);
        if (tables is not null)
        {
            var data = PostgresPools.Create(connectionString);
            _writes = new BatchedWriteTransaction.Target(data, tables);
            _queue = new JobQueue(data, connectionString, tables);
        }

        JobExpirationTimeout = inner.JobExpirationTimeout;
    }

    public void Dispose()
    {
        _queue?.Dispose();
        _locks.Dispose();
        _writes?.Data.Dispose();
    }

    public override bool LinearizableReads => _inner.LinearizableReads;

    public override IMonitoringApi GetMonitoringApi() => _inner.GetMonitoringApi();

    public override IStorageConnection GetConnection() => new Connection((JobStorageConnection)_inner.GetConnection(), _locks, _writes, _queue);

    public override IStorageConnection GetReadOnlyConnection() => new Connection((JobStorageConnection)_inner.GetReadOnlyConnection(), _locks, _writes, _queue);

    [Obsolete("Hangfire.PostgreSql still provides its processes (expiration, counter aggregation) as components.")]
#pragma warning disable CS0618
    public override IEnumerable<IServerComponent> GetComponents() => _inner.GetComponents();
#pragma warning restore CS0618

    public override IEnumerable<IBackgroundProcess> GetServerRequiredProcesses() => _inner.GetServerRequiredProcesses();

    public override IEnumerable<IBackgroundProcess> GetStorageWideProcesses() => _inner.GetStorageWideProcesses();

    public override IEnumerable<IStateHandler> GetStateHandlers() => _inner.GetStateHandlers();

    public override void WriteOptionsToLog(ILog logger) => _inner.WriteOptionsToLog(logger);

    public override bool HasFeature(string featureId) => _inner.HasFeature(featureId);

    public override string? ToString() => _inner.ToString();

    /// <summary>
    /// A resource's advisory key: 64 bits of SHA-256 in the one-integer key space, where Ensemble's only other locks are
    /// the repository slots (<c>RepositoryRunSlots.SlotKey</c>: 32 bits of a hash and a slot number), so the two meet
    /// only by a 64-bit coincidence. The state store's locks use the two-integer space.
    /// </summary>
    internal static long Key(string resource) =>
        BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("hangfire\n" + resource)), 0);

    /// <summary>How long a busy lock is waited for between tries, at most (it starts at 5 ms and doubles).</summary>
    private static readonly TimeSpan MaxPollDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>Takes <paramref name="resource"/>'s lock, waiting up to <paramref name="timeout"/> for its holder.</summary>
    internal static IDisposable Acquire(NpgsqlDataSource locks, string resource, TimeSpan timeout)
    {
        var key = Key(resource);
        var waited = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(5);
        var connection = locks.OpenConnection();
        try
        {
            while (true)
            {
                using (var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key);", connection))
                {
                    command.Parameters.AddWithValue("key", key);
                    if (command.ExecuteScalar() is true)
                    {
                        return new Held(connection, key);
                    }
                }

                var left = timeout - waited.Elapsed;
                if (left <= TimeSpan.Zero)
                {
                    connection.Dispose();
                    throw new DistributedLockTimeoutException(resource);
                }

                Thread.Sleep(delay < left ? delay : left);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxPollDelay.Ticks));
            }
        }
        catch (Exception e) when (e is not DistributedLockTimeoutException)
        {
            // The server went away, or a reply was lost: whether the lock was granted is unknown, so the session ends.
            SessionLocks.Abandon(connection);
            throw;
        }
    }

    /// <summary>A held lock. Releasing never throws: when the unlock fails the session is ended, which releases it too.</summary>
    private sealed class Held(NpgsqlConnection connection, long key) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
            {
                return;
            }

            try
            {
                using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(@key);", connection);
                command.Parameters.AddWithValue("key", key);
                command.ExecuteNonQuery();
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or IOException or TimeoutException)
            {
                SessionLocks.Abandon(connection);
                return;
            }

            connection.Dispose();
        }
    }

    /// <summary>Hangfire.PostgreSql's connection, every call forwarded but the distributed lock (and, with its tables' settings, writes and fetches).</summary>
    private sealed class Connection(JobStorageConnection inner, NpgsqlDataSource locks, BatchedWriteTransaction.Target? writes, JobQueue? queue)
        : JobStorageConnection
    {
        public override IDisposable AcquireDistributedLock(string resource, TimeSpan timeout) => Acquire(locks, resource, timeout);

        public override void Dispose()
        {
            inner.Dispose();
            base.Dispose();
        }

        public override IWriteOnlyTransaction CreateWriteTransaction() => writes is null
            ? inner.CreateWriteTransaction()
            : new BatchedWriteTransaction((JobStorageTransaction)inner.CreateWriteTransaction(), writes);

        public override string CreateExpiredJob(Job job, IDictionary<string, string> parameters, DateTime createdAt, TimeSpan expireIn) =>
            writes is null
                ? inner.CreateExpiredJob(job, parameters, createdAt, expireIn)
                : BatchedWriteTransaction.CreateExpiredJob(writes, job, parameters, createdAt, expireIn);

        public override IFetchedJob FetchNextJob(string[] queues, CancellationToken cancellationToken) =>
            queue is null ? inner.FetchNextJob(queues, cancellationToken) : queue.Fetch(queues, cancellationToken);

        public override void SetJobParameter(string id, string name, string value) => inner.SetJobParameter(id, name, value);

        public override string GetJobParameter(string id, string name) => inner.GetJobParameter(id, name);

        public override JobData GetJobData(string jobId) => inner.GetJobData(jobId);

        public override StateData GetStateData(string jobId) => inner.GetStateData(jobId);

        public override void AnnounceServer(string serverId, ServerContext context) => inner.AnnounceServer(serverId, context);

        public override void RemoveServer(string serverId) => inner.RemoveServer(serverId);

        public override void Heartbeat(string serverId) => inner.Heartbeat(serverId);

        public override int RemoveTimedOutServers(TimeSpan timeOut) => inner.RemoveTimedOutServers(timeOut);

        public override HashSet<string> GetAllItemsFromSet(string key) => inner.GetAllItemsFromSet(key);

        public override string GetFirstByLowestScoreFromSet(string key, double fromScore, double toScore) =>
            inner.GetFirstByLowestScoreFromSet(key, fromScore, toScore);

        public override List<string> GetFirstByLowestScoreFromSet(string key, double fromScore, double toScore, int count) =>
            inner.GetFirstByLowestScoreFromSet(key, fromScore, toScore, count);

        public override long GetSetCount(string key) => inner.GetSetCount(key);

        public override long GetSetCount(IEnumerable<string> keys, int limit) => inner.GetSetCount(keys, limit);

        public override bool GetSetContains(string key, string value) => inner.GetSetContains(key, value);

        public override List<string> GetRangeFromSet(string key, int startingFrom, int endingAt) => inner.GetRangeFromSet(key, startingFrom, endingAt);

        public override TimeSpan GetSetTtl(string key) => inner.GetSetTtl(key);

        public override void SetRangeInHash(string key, IEnumerable<KeyValuePair<string, string>> keyValuePairs) => inner.SetRangeInHash(key, keyValuePairs);

        public override Dictionary<string, string> GetAllEntriesFromHash(string key) => inner.GetAllEntriesFromHash(key);

        public override string GetValueFromHash(string key, string name) => inner.GetValueFromHash(key, name);

        public override long GetHashCount(string key) => inner.GetHashCount(key);

        public override TimeSpan GetHashTtl(string key) => inner.GetHashTtl(key);

        public override long GetListCount(string key) => inner.GetListCount(key);

        public override List<string> GetAllItemsFromList(string key) => inner.GetAllItemsFromList(key);

        public override List<string> GetRangeFromList(string key, int startingFrom, int endingAt) => inner.GetRangeFromList(key, startingFrom, endingAt);

        public override TimeSpan GetListTtl(string key) => inner.GetListTtl(key);

        public override long GetCounter(string key) => inner.GetCounter(key);

        public override DateTime GetUtcDateTime() => inner.GetUtcDateTime();
    }
}

/// <summary>
/// The settings of Hangfire.PostgreSql's storage that Ensemble's own writes and fetches in its tables follow (its
/// <c>PostgreSqlStorageOptions</c> of the same names).
/// </summary>
public sealed record HangfireTables(string Schema, bool LongPolling, TimeSpan InvisibilityTimeout, bool SlidingInvisibility, TimeSpan QueuePollInterval);
