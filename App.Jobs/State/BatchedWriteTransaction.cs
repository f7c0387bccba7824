using System.Globalization;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;
using Npgsql;
using NpgsqlTypes;

namespace Ensemble.Jobs.State;

/// <summary>
/// Hangfire's write-only transaction for Hangfire.PostgreSql's tables, sent as one batch when it holds only what a job's
/// state change is made of (its state, expiry, queue entry and statistics counters), and replayed in order onto
/// Hangfire.PostgreSql's own transaction when it holds anything else.
/// </summary>
/// <remarks>
/// Hangfire.PostgreSql runs each operation as a statement of its own inside a transaction scope: a job that is enqueued,
/// processed and succeeds costs 17 statements in its three state changes (BEGIN, 2–5 statements, COMMIT each), each a
/// round trip; here it is three batches. A batch is one implicit transaction (one <c>Sync</c>): all of it is written or
/// none; read committed is enough, as every statement writes rows of one job or appends a counter, reading nothing the
/// others wrote. The statements are Hangfire.PostgreSql 1.21's own, written against the same rows, so its dashboard,
/// expiration and counter aggregation read them as theirs; <c>BatchedWriteTransactionTests</c> compares the two row by
/// row. Hangfire.PostgreSql also wakes its same-process workers through an in-process event after a commit; that event
/// is internal, so a batched enqueue is announced by <c>NOTIFY new_job</c> alone, which its long polling listens for in
/// every process.
/// </remarks>
internal sealed class BatchedWriteTransaction(JobStorageTransaction inner, BatchedWriteTransaction.Target target) : JobStorageTransaction
{
    /// <summary>Where batches go: a pool on Hangfire's database, and its tables' settings (schema, whether enqueues are announced).</summary>
    internal sealed record Target(NpgsqlDataSource Data, HangfireTables Tables);

    private readonly List<Action<JobStorageTransaction>> _replay = [];
    private readonly List<NpgsqlBatchCommand> _batch = [];
    private bool _replayed;

    private string Schema => target.Tables.Schema;

    public override void Dispose() => inner.Dispose();

    public override void Commit()
    {
        if (_replayed)
        {
            foreach (var operation in _replay)
            {
                operation(inner);
            }

            inner.Commit();
            return;
        }

        if (_batch.Count == 0)
        {
            return;
        }

        using var connection = target.Data.OpenConnection();
        using var batch = new NpgsqlBatch(connection);
        foreach (var command in _batch)
        {
            batch.BatchCommands.Add(command);
        }

        batch.ExecuteNonQuery();
    }

    /// <summary>
    /// Hangfire.PostgreSql's <c>CreateExpiredJob</c> in one statement: the job and its parameters (the same rows, the
    /// same serialisation), where it takes a transaction of its own (BEGIN, INSERT, COMMIT: three round trips).
    /// </summary>
    internal static string CreateExpiredJob(Target target, Job job, IDictionary<string, string> parameters, DateTime createdAt, TimeSpan expireIn)
    {
        var invocation = InvocationData.SerializeJob(job);
        createdAt = DateTime.SpecifyKind(createdAt, DateTimeKind.Utc);
        using var command = target.Data.CreateCommand(
            $"""
            WITH "j" AS (
                INSERT INTO "{target.Tables.Schema}"."job" ("invocationdata", "arguments", "createdat", "expireat")
                VALUES ($1::jsonb, $2::jsonb, $3, $4) RETURNING "id"
            ), "p" AS (
                INSERT INTO "{target.Tables.Schema}"."jobparameter" ("jobid", "name", "value")
                SELECT "j"."id", "x"."name", "x"."value" FROM "j", unnest($5::text[], $6::text[]) AS "x"("name", "value")
            )
            SELECT "id" FROM "j"
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = SerializationHelper.Serialize(invocation) });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)invocation.Arguments ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = createdAt });
        command.Parameters.Add(new NpgsqlParameter { Value = createdAt.Add(expireIn) });
        var pairs = parameters.ToArray();
        command.Parameters.Add(new NpgsqlParameter { Value = pairs.Select(p => p.Key).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = pairs.Select(p => p.Value).ToArray() });
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>An operation that can go in the batch; <paramref name="replay"/> is what it is on the slow path.</summary>
    private void Batched(Action<JobStorageTransaction> replay, string sql, params object?[] values)
    {
        _replay.Add(replay);
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(value is null
                ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text }
                : new NpgsqlParameter { Value = value });
        }

        _batch.Add(command);
    }

    /// <summary>An operation only Hangfire.PostgreSql writes: the whole transaction goes its way.</summary>
    private void Replayed(Action<JobStorageTransaction> replay)
    {
        _replay.Add(replay);
        _replayed = true;
    }

    private static long Id(string jobId) => long.Parse(jobId, CultureInfo.InvariantCulture);

    public override void SetJobState(string jobId, IState state) => Batched(t => t.SetJobState(jobId, state),
        $"""WITH "s" AS (INSERT INTO "{Schema}"."state" ("jobid", "name", "reason", "createdat", "data") VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING "id") UPDATE "{Schema}"."job" "j" SET "stateid" = s."id", "statename" = $2 FROM "s" WHERE "j"."id" = $1""",
        Id(jobId), state.Name, state.Reason, DateTime.UtcNow, SerializationHelper.Serialize(state.SerializeData()));

    public override void PersistJob(string jobId) => Batched(t => t.PersistJob(jobId),
        $"""UPDATE "{Schema}"."job" SET "expireat" = NULL WHERE "id" = $1""", Id(jobId));

    public override void ExpireJob(string jobId, TimeSpan expireIn) => Batched(t => t.ExpireJob(jobId, expireIn),
        $"""UPDATE "{Schema}"."job" SET "expireat" = NOW() + INTERVAL '{(long)expireIn.TotalSeconds} SECONDS' WHERE "id" = $1""", Id(jobId));

    public override void IncrementCounter(string key) => Batched(t => t.IncrementCounter(key),
        $"""INSERT INTO "{Schema}"."counter" ("key", "value") VALUES ($1, 1)""", key);

    public override void IncrementCounter(string key, TimeSpan expireIn) => Batched(t => t.IncrementCounter(key, expireIn),
        $"""INSERT INTO "{Schema}"."counter" ("key", "value", "expireat") VALUES ($1, 1, NOW() + INTERVAL '{(long)expireIn.TotalSeconds} SECONDS')""", key);

    public override void AddToQueue(string queue, string jobId)
    {
        Batched(t => t.AddToQueue(queue, jobId), $"""INSERT INTO "{Schema}"."jobqueue" ("jobid", "queue") VALUES ($1, $2)""", Id(jobId), queue);
        if (target.Tables.LongPolling)
        {
            _batch.Add(new NpgsqlBatchCommand("NOTIFY new_job"));
        }
    }

    public override void AddJobState(string jobId, IState state) => Replayed(t => t.AddJobState(jobId, state));
    public override void DecrementCounter(string key) => Replayed(t => t.DecrementCounter(key));
    public override void DecrementCounter(string key, TimeSpan expireIn) => Replayed(t => t.DecrementCounter(key, expireIn));
    public override void AddToSet(string key, string value) => Replayed(t => t.AddToSet(key, value));
    public override void AddToSet(string key, string value, double score) => Replayed(t => t.AddToSet(key, value, score));
    public override void RemoveFromSet(string key, string value) => Replayed(t => t.RemoveFromSet(key, value));
    public override void InsertToList(string key, string value) => Replayed(t => t.InsertToList(key, value));
    public override void RemoveFromList(string key, string value) => Replayed(t => t.RemoveFromList(key, value));
    public override void TrimList(string key, int keepStartingFrom, int keepEndingAt) => Replayed(t => t.TrimList(key, keepStartingFrom, keepEndingAt));
    public override void SetRangeInHash(string key, IEnumerable<KeyValuePair<string, string>> keyValuePairs)
    {
        var pairs = keyValuePairs.ToList();
        Replayed(t => t.SetRangeInHash(key, pairs));
    }

    public override void RemoveHash(string key) => Replayed(t => t.RemoveHash(key));
    public override void ExpireSet(string key, TimeSpan expireIn) => Replayed(t => t.ExpireSet(key, expireIn));
    public override void ExpireList(string key, TimeSpan expireIn) => Replayed(t => t.ExpireList(key, expireIn));
    public override void ExpireHash(string key, TimeSpan expireIn) => Replayed(t => t.ExpireHash(key, expireIn));
    public override void PersistSet(string key) => Replayed(t => t.PersistSet(key));
    public override void PersistList(string key) => Replayed(t => t.PersistList(key));
    public override void PersistHash(string key) => Replayed(t => t.PersistHash(key));
    public override void AddRangeToSet(string key, IList<string> items) => Replayed(t => t.AddRangeToSet(key, items));
    public override void RemoveSet(string key) => Replayed(t => t.RemoveSet(key));
}
