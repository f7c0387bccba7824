using System.Globalization;
using Hangfire.Logging;
using Hangfire.Storage;
using Npgsql;

namespace Ensemble.Jobs.State;

/// <summary>
/// Workers' fetching from Hangfire.PostgreSql's queue table: each fetch one statement, and one listening connection per
/// process for the <c>NOTIFY new_job</c> that announces an enqueued job.
/// </summary>
/// <remarks>
/// Hangfire.PostgreSql 1.21 fetches in a transaction of its own (BEGIN, the UPDATE, COMMIT: three round trips) and, with
/// long polling, opens a connection and sends a fresh <c>LISTEN</c> from a new task for every fetch, cancelled when it
/// returns. Here the same UPDATE (the same rows, order, invisibility and <c>SKIP LOCKED</c>) is sent alone, as an implicit
/// transaction, and the waiting workers share one listener that is started with the first fetch and stays. The queue
/// entry a worker holds behaves as Hangfire.PostgreSql's: removed when the job ends, put back when the worker lets go of
/// it, and with a sliding invisibility its fetch time renewed every fifth of the timeout, so a live worker's job is never
/// taken over and a dead worker's is after one timeout.
/// </remarks>
internal sealed class JobQueue : IDisposable
{
    private static readonly ILog Log = LogProvider.GetLogger(typeof(JobQueue));

    /// <summary>How long a listener that lost its connection waits before it listens again, at most.</summary>
    private static readonly TimeSpan MaxListenRetryDelay = TimeSpan.FromSeconds(30);

    private readonly NpgsqlDataSource _data;
    private readonly string _listenConnectionString;
    private readonly HangfireTables _tables;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _starting = new();
    private TaskCompletionSource _announced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _listener;
    private int _disposed;

    /// <param name="data">A pool on Hangfire's database.</param>
    /// <param name="connectionString">The same database's, for the listening connection (its own, never pooled).</param>
    /// <param name="tables">Hangfire.PostgreSql's settings: its schema, how long a fetched job stays invisible to other
    /// workers and whether its worker renews that, how long a waiting worker waits before it looks again, and whether
    /// enqueues are announced.</param>
    public JobQueue(NpgsqlDataSource data, string connectionString, HangfireTables tables)
    {
        _data = data;
        _listenConnectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;
        _tables = tables;
    }

    /// <summary>The next job of <paramref name="queues"/>, waiting for one as long as it takes.</summary>
    public IFetchedJob Fetch(string[] queues, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queues);
        if (queues.Length == 0)
        {
            throw new ArgumentException("Queue array must be non-empty.", nameof(queues));
        }

        StartListening();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Taken before looking, so an announcement made while the statement runs ends the wait below at once.
            var announced = Volatile.Read(ref _announced).Task;
            if (TryFetch(queues) is { } fetched)
            {
                return fetched;
            }

            announced.Wait(_tables.QueuePollInterval, cancellationToken); // throws OperationCanceledException when the server stops
        }
    }

    /// <summary>Wakes every waiting worker: a job may be in the queue.</summary>
    internal void Announce() =>
        Interlocked.Exchange(ref _announced, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Hangfire.PostgreSql 1.21's fetch, as one statement.</summary>
    private Fetched? TryFetch(string[] queues)
    {
        using var command = _data.CreateCommand(
            $"""
            UPDATE "{_tables.Schema}"."jobqueue" SET "fetchedat" = NOW()
            WHERE "id" = (
                SELECT "id" FROM "{_tables.Schema}"."jobqueue"
                WHERE "queue" = ANY ($1) AND ("fetchedat" IS NULL OR "fetchedat" < NOW() - $2)
                ORDER BY "fetchedat" NULLS FIRST, "queue", "jobid"
                FOR UPDATE SKIP LOCKED
                LIMIT 1)
            RETURNING "id", "jobid", "queue", "fetchedat"
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = queues });
        command.Parameters.Add(new NpgsqlParameter { Value = _tables.InvisibilityTimeout });
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new Fetched(this, reader.GetInt64(0), reader.GetInt64(1).ToString(CultureInfo.InvariantCulture), reader.GetString(2), reader.GetDateTime(3))
            : null;
    }

    private void StartListening()
    {
        if (_tables.LongPolling && Volatile.Read(ref _listener) is null)
        {
            lock (_starting)
            {
                _listener ??= Task.Run(() => ListenAsync(_stop.Token));
            }
        }
    }

    /// <summary>Listens for <c>new_job</c> until disposed, listening again after a lost connection.</summary>
    private async Task ListenAsync(CancellationToken stop)
    {
        var retry = TimeSpan.FromSeconds(1);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(_listenConnectionString);
                connection.Notification += (_, _) => Announce();
                await connection.OpenAsync(stop);
                await using (var command = new NpgsqlCommand("LISTEN new_job", connection))
                {
                    await command.ExecuteNonQueryAsync(stop);
                }

                // What was enqueued while nobody listened is looked for now, not at the next poll.
                Announce();
                retry = TimeSpan.FromSeconds(1);
                while (true)
                {
                    await connection.WaitAsync(stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Workers still look every poll interval meanwhile: jobs start later, none is lost.
                Log.WarnException($"Listening for new jobs failed; listening again in {retry.TotalSeconds:0} s, polling every {_tables.QueuePollInterval.TotalSeconds:0.#} s meanwhile.", e);
                try
                {
                    await Task.Delay(retry, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, MaxListenRetryDelay.Ticks));
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        try
        {
            Volatile.Read(ref _listener)?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // It ended; how is logged.
        }

        _stop.Dispose();
    }

    /// <summary>A queue entry a worker holds, identified by its id and the fetch time it was taken (or renewed) with.</summary>
    private sealed class Fetched : IFetchedJob
    {
        private readonly JobQueue _queue;
        private readonly long _id;
        private readonly Lock _sync = new();
        private readonly Timer? _renewal;
        private DateTime? _fetchedAt;
        private bool _done;

        public Fetched(JobQueue queue, long id, string jobId, string queueName, DateTime fetchedAt)
        {
            _queue = queue;
            _id = id;
            JobId = jobId;
            Queue = queueName;
            _fetchedAt = fetchedAt;
            if (queue._tables.SlidingInvisibility)
            {
                var every = queue._tables.InvisibilityTimeout / 5;
                _renewal = new Timer(_ => Renew(), null, every, every);
            }
        }

        public string JobId { get; }

        public string Queue { get; }

        public void RemoveFromQueue() => End($"""DELETE FROM "{_queue._tables.Schema}"."jobqueue" WHERE "id" = $1 AND "fetchedat" = $2""");

        public void Requeue() => End($"""UPDATE "{_queue._tables.Schema}"."jobqueue" SET "fetchedat" = NULL WHERE "id" = $1 AND "fetchedat" = $2""");

        /// <summary>A worker that neither removed nor requeued its entry (it stopped) puts it back for another.</summary>
        public void Dispose()
        {
            Requeue();
            _renewal?.Dispose();
        }

        private void End(string sql)
        {
            lock (_sync)
            {
                if (_done || _fetchedAt is not { } fetchedAt)
                {
                    _done = true;
                    return;
                }

                _done = true;
                _renewal?.Change(Timeout.Infinite, Timeout.Infinite);
                Execute(sql, fetchedAt);
            }
        }

        private void Renew()
        {
            lock (_sync)
            {
                if (_done || _fetchedAt is not { } fetchedAt)
                {
                    return;
                }

                try
                {
                    _fetchedAt = Execute(
                        $"""UPDATE "{_queue._tables.Schema}"."jobqueue" SET "fetchedat" = NOW() WHERE "id" = $1 AND "fetchedat" = $2 RETURNING "fetchedat" """,
                        fetchedAt) as DateTime?;
                    if (_fetchedAt is null)
                    {
                        Log.Warn($"Background job '{JobId}' was taken over by another worker after {_queue._tables.InvisibilityTimeout} without a renewal; its entry is no longer renewed.");
                    }
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    // The next renewal tries again; the entry stays invisible for the rest of the timeout.
                    Log.DebugException($"Renewing background job '{JobId}' in the queue failed", e);
                }
            }
        }

        private object? Execute(string sql, DateTime fetchedAt)
        {
            using var command = _queue._data.CreateCommand(sql);
            command.Parameters.Add(new NpgsqlParameter { Value = _id });
            command.Parameters.Add(new NpgsqlParameter { Value = fetchedAt });
            return command.ExecuteScalar();
        }
    }
}
