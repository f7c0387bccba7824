using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;
using Hangfire;
using Hangfire.Server;
using Hangfire.States;
using Npgsql;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// At most <c>Ensemble:MaxRunsPerRepository</c> terraform runs of one repository at a time, across every worker, so one
/// monorepo's 500-project pull request cannot take all workers from the other repositories. Slots are never waited
/// for: a run that finds none gives its worker back and is tried again later (docs/runners.md, "Runs per repository").
/// </summary>
public sealed class RepositoryRunSlots : IAsyncDisposable
{
    private readonly NpgsqlDataSource? _postgres;
    private readonly ConcurrentDictionary<string, int> _local = new(StringComparer.Ordinal);

    private RepositoryRunSlots(NpgsqlDataSource? postgres) => _postgres = postgres;

    /// <summary>Slots as PostgreSQL session advisory locks on (repository, slot): a killed worker's slot frees itself.</summary>
    public static RepositoryRunSlots ForPostgres(string connectionString) =>
        new(PostgresPools.Create(connectionString));

    /// <summary>The embedded mode is one process: a counter per repository is the whole truth.</summary>
    public static RepositoryRunSlots InProcess() => new(null);

    /// <summary>Takes a free slot of <paramref name="repo"/>, or returns <c>null</c> when <paramref name="limit"/> runs already hold one.</summary>
    /// <param name="limit">0 or less: no cap (a slot that holds nothing).</param>
    public async Task<IAsyncDisposable?> TryAcquireAsync(RepoRef repo, int limit, CancellationToken cancellationToken = default)
    {
        if (limit <= 0)
        {
            return Held.Nothing;
        }

        var name = repo.FullName.ToLowerInvariant();
        if (_postgres is null)
        {
            while (true)
            {
                var taken = _local.GetOrAdd(name, 0);
                if (taken >= limit)
                {
                    return null;
                }

                if (_local.TryUpdate(name, taken + 1, taken))
                {
                    return new Held(() =>
                    {
                        _local.AddOrUpdate(name, 0, (_, n) => Math.Max(0, n - 1));
                        return ValueTask.CompletedTask;
                    });
                }
            }
        }

        // One connection holds the slot for the whole run; the lock dies with it (and with a killed worker).
        var connection = await _postgres.OpenConnectionAsync(cancellationToken);
        try
        {
            // Start at a different slot each time so runs do not all probe slot 0 first. Every slot is tried in one
            // round trip: PostgreSQL evaluates a CASE's conditions in order and stops at the first true one, and
            // pg_try_advisory_lock is volatile, so none is evaluated ahead: at most one lock is taken.
            var start = Random.Shared.Next(limit);
            var hash = RepositoryHash(name);
            var keys = Enumerable.Range(0, limit).Select(i => SlotKey(hash, (start + i) % limit)).ToArray();
            await using var command = new NpgsqlCommand(
                "SELECT CASE " + string.Concat(keys.Select((_, i) => $"WHEN pg_try_advisory_lock(${i + 1}) THEN {i} ")) + "ELSE -1 END;", connection);
            foreach (var key in keys)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = key });
            }

            if (Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) is var slot and >= 0)
            {
                var key = keys[slot];
                return new Held(async () =>
                {
                    try
                    {
                        await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key);", connection);
                        unlock.Parameters.AddWithValue("key", key);
                        await unlock.ExecuteNonQueryAsync();
                    }
                    catch
                    {
                        await SessionLocks.AbandonAsync(connection);
                        throw;
                    }

                    await connection.DisposeAsync();
                });
            }
        }
        catch
        {
            await SessionLocks.AbandonAsync(connection);
            throw;
        }

        await connection.DisposeAsync();
        return null;
    }

    /// <summary>
    /// A 64-bit advisory key: 32 bits from the repository's name, 32 for the slot. The state store's locks use the
    /// two-integer form (a separate key space in PostgreSQL) or small numbers, so they cannot meet these; Hangfire's
    /// (<see cref="AdvisoryLockJobStorage.Key"/>) are 64 bits of a hash, which meet one only by a 64-bit coincidence.
    /// </summary>
    internal static long SlotKey(string repository, int slot) => SlotKey(RepositoryHash(repository), slot);

    private static long SlotKey(uint repositoryHash, int slot) => (long)(((ulong)repositoryHash << 32) | (uint)slot);

    private static uint RepositoryHash(string repository) => BitConverter.ToUInt32(SHA256.HashData(Encoding.UTF8.GetBytes(repository)), 0);

    /// <summary>How long a run that found no free slot waits before it is tried again (plus up to half again, spread).</summary>
    public static TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<long, byte> _announced = new();

    /// <summary>
    /// True the first time run <paramref name="runId"/> waits in this process: its check run says so once, not on every
    /// retry (hundreds of waiting runs would otherwise spend the API budget repeating themselves).
    /// </summary>
    public bool FirstWait(long runId) => _announced.TryAdd(runId, 0);

    /// <summary>The run got its slot (or ended): a later wait is news again.</summary>
    public void Started(long runId) => _announced.TryRemove(runId, out _);

    /// <summary>
    /// Gives the worker back and runs the job again after <see cref="RetryDelay"/>: the job in progress is moved to
    /// Scheduled (one job, never a copy, even if this worker dies right after); outside Hangfire a new job is scheduled.
    /// </summary>
    public static void TryAgainLater<TJob>(IBackgroundJobClient jobs, System.Linq.Expressions.Expression<Func<TJob, Task>> call)
    {
        var delay = RetryDelay + TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * RetryDelay.TotalMilliseconds / 2);
        if (CurrentJob.Id is { } id && jobs.ChangeState(id, new ScheduledState(delay), ProcessingState.StateName))
        {
            return;
        }

        jobs.Schedule(call, delay);
    }

    /// <summary>What a waiting run's check run says.</summary>
    public static string WaitingText(int running, int limit) =>
        $"Waiting: {running} {(running == 1 ? "run" : "runs")} of this repository already running (limit {limit})";

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    private sealed class Held(Func<ValueTask> release) : IAsyncDisposable
    {
        public static readonly Held Nothing = new(() => ValueTask.CompletedTask);

        private int _released;

        public ValueTask DisposeAsync() => Interlocked.Exchange(ref _released, 1) == 0 ? release() : ValueTask.CompletedTask;
    }
}

/// <summary>
/// The id of the Hangfire job this code runs in, so a job can reschedule itself (one job, never a copy) instead of
/// holding its worker. Hangfire runs server filters and then the job on the same worker thread.
/// </summary>
public sealed class CurrentJob : IServerFilter
{
    private static readonly AsyncLocal<string?> Current = new();

    public static string? Id => Current.Value;

    public void OnPerforming(PerformingContext context) => Current.Value = context.BackgroundJob.Id;

    public void OnPerformed(PerformedContext context) => Current.Value = null;
}
