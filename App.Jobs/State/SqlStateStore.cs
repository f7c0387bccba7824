using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Text;
using Ensemble.Jobs.Core;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Ensemble.Jobs.State;

/// <summary>
/// One store over ADO.NET for both PostgreSQL (shared by many workers) and the embedded SQLite file. The SQL is the
/// portable subset both speak (ON CONFLICT, RETURNING, @parameters); only DDL and locking differ by dialect.
/// Timestamps are stored as Unix milliseconds so both dialects compare them the same way.
/// </summary>
public sealed class SqlStateStore : IStateStore, IAsyncDisposable
{
    private readonly Dialect _dialect;
    private readonly NpgsqlDataSource? _postgres;
    private readonly NpgsqlDataSource? _lockConnections;
    private readonly string? _sqliteConnectionString;

    private enum Dialect { Postgres, Sqlite }

    private SqlStateStore(Dialect dialect, NpgsqlDataSource? postgres, NpgsqlDataSource? lockConnections, string? sqlite)
    {
        _dialect = dialect;
        _postgres = postgres;
        _lockConnections = lockConnections;
        _sqliteConnectionString = sqlite;
    }

    /// <summary>
    /// Statements leave no session state behind (no SET, no temporary tables, transaction-scoped locks only), so their
    /// pooled connections skip Npgsql's reset on reuse (<see cref="PostgresPools"/>). Session advisory locks do leave
    /// state: they come from a pool of their own (a lock held for a whole plan never takes a connection statements
    /// need), are always unlocked explicitly, and a connection whose lock or unlock failed is closed, not reused
    /// (<see cref="SessionLocks.AbandonAsync"/>).
    /// </summary>
    public static SqlStateStore ForPostgres(string connectionString) =>
        new(Dialect.Postgres, PostgresPools.Create(connectionString), PostgresPools.Create(connectionString), null);

    public static SqlStateStore ForSqlite(string databaseFile)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(databaseFile))!);
        var builder = new SqliteConnectionStringBuilder { DataSource = databaseFile, DefaultTimeout = 30, Pooling = true };
        return new(Dialect.Sqlite, null, null, builder.ToString());
    }

    public bool IsEmbedded => _dialect == Dialect.Sqlite;

    private async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        if (_postgres is not null)
        {
            return await _postgres.OpenConnectionAsync(ct);
        }

        var connection = new SqliteConnection(_sqliteConnectionString);
        await connection.OpenAsync(ct);
        await using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;";
            await pragma.ExecuteNonQueryAsync(ct);
        }
        return connection;
    }

    private static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            command.Parameters.Add(p);
        }
        return command;
    }

    private async Task<int> ExecuteAsync(string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(ct);
    }

    private async Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var list = new List<T>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(map(reader));
        }
        return list;
    }

    private static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();
    private static DateTimeOffset? FromMs(DbDataReader r, int i) => r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));
    private static string? Str(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
    private static long? Long(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt64(i);

    // ---- schema ------------------------------------------------------------------------------------------------

    private string Identity => _dialect == Dialect.Postgres ? "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";

    /// <summary>Migrations in order; each runs once, recorded in schema_version. Append, never edit.</summary>
    private IReadOnlyList<string> Migrations =>
    [
        $"""
        CREATE TABLE deliveries (
            delivery_id TEXT PRIMARY KEY,
            event TEXT NOT NULL,
            action TEXT NULL,
            installation_id BIGINT NULL,
            repository TEXT NULL,
            payload TEXT NOT NULL,
            received_at BIGINT NOT NULL,
            processed_at BIGINT NULL
        );
        CREATE INDEX deliveries_unprocessed ON deliveries (received_at) WHERE processed_at IS NULL;
        CREATE TABLE pr_heads (
            id {Identity},
            installation_id BIGINT NOT NULL,
            owner TEXT NOT NULL,
            repo TEXT NOT NULL,
            pr_number INTEGER NOT NULL,
            head_sha TEXT NOT NULL,
            base_sha TEXT NOT NULL,
            base_ref TEXT NOT NULL,
            author TEXT NOT NULL,
            status TEXT NOT NULL,
            aggregate_check_run_id BIGINT NULL,
            problems TEXT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (owner, repo, pr_number, head_sha)
        );
        CREATE TABLE project_runs (
            id {Identity},
            head_id BIGINT NOT NULL REFERENCES pr_heads (id),
            project_path TEXT NOT NULL,
            destroy INTEGER NOT NULL,
            plan_sha TEXT NOT NULL,
            status TEXT NOT NULL,
            check_run_id BIGINT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            reasons TEXT NULL,
            plan_sha256 TEXT NULL,
            fingerprint TEXT NULL,
            summary TEXT NULL,
            error TEXT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            started_at BIGINT NULL,
            finished_at BIGINT NULL,
            UNIQUE (head_id, project_path)
        );
        CREATE INDEX project_runs_unfinished ON project_runs (status) WHERE status IN ('queued', 'planning');
        """,
        $"""
        CREATE TABLE approvals (
            id {Identity},
            run_id BIGINT NOT NULL REFERENCES project_runs (id),
            owner TEXT NOT NULL,
            repo TEXT NOT NULL,
            pr_number INTEGER NOT NULL,
            project_path TEXT NOT NULL,
            head_sha TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            plan_sha256 TEXT NULL,
            approved_by TEXT NOT NULL,
            kind TEXT NOT NULL,
            approved_at BIGINT NOT NULL
        );
        CREATE INDEX approvals_by_project ON approvals (owner, repo, pr_number, project_path, approved_at);
        """,
        // 3: the webhook answer is one INSERT; a dispatcher enqueues jobs off the request path (outbox). Payloads are
        // stored uncompressed: compressing 25 KB on every webhook cost more CPU than the disk it saves.
        $"""
        ALTER TABLE deliveries ADD COLUMN enqueued_at BIGINT NULL;
        CREATE INDEX deliveries_to_enqueue ON deliveries (received_at) WHERE enqueued_at IS NULL;
        {(_dialect == Dialect.Postgres ? "ALTER TABLE deliveries ALTER COLUMN payload SET STORAGE EXTERNAL;" : "")}
        """,
        // 4: Apply after merge (docs/apply.md): one merge per head, at most one apply per run — the primary key on run_id
        // backs the approved → applying compare-and-set.
        $"""
        CREATE TABLE merges (
            id {Identity},
            head_id BIGINT NOT NULL REFERENCES pr_heads (id),
            merge_sha TEXT NOT NULL,
            comment_id BIGINT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (head_id)
        );
        CREATE TABLE applies (
            run_id BIGINT PRIMARY KEY REFERENCES project_runs (id),
            merge_id BIGINT NOT NULL REFERENCES merges (id),
            job_id TEXT NOT NULL,
            merge_check_run_id BIGINT NULL,
            outcome TEXT NULL,
            message TEXT NULL,
            started_at BIGINT NOT NULL,
            finished_at BIGINT NULL
        );
        """,
        // 5. What was last shown on GitHub per check run / comment, so unchanged or too-frequent updates are not sent
        // again (API economy, docs/benchmarks.md); flush_due marks a scheduled catch-up publish.
        """
        CREATE TABLE published (
            target TEXT PRIMARY KEY,
            digest TEXT NOT NULL,
            interim INTEGER NOT NULL,
            published_at BIGINT NOT NULL,
            flush_due BIGINT NULL
        );
        """,
    ];

    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        if (_dialect == Dialect.Sqlite)
        {
            // WAL lets the dashboard and jobs read while a job writes; it cannot be switched inside a transaction.
            await using var wal = Command(connection, "PRAGMA journal_mode = WAL;");
            await wal.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (_dialect == Dialect.Postgres)
        {
            // Several workers may start at once: one migrates, the others wait and then find nothing to do.
            await using var lockCommand = Command(connection, "SELECT pg_advisory_xact_lock(7468657);");
            lockCommand.Transaction = tx;
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var create = Command(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"))
        {
            create.Transaction = tx;
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        long current;
        await using (var read = Command(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_version;"))
        {
            read.Transaction = tx;
            current = Convert.ToInt64(await read.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }

        var migrations = Migrations;
        if (current > migrations.Count)
        {
            throw new InvalidOperationException(
                $"The database schema is version {current}, newer than this Ensemble ({migrations.Count}). Run the newer Ensemble or restore a matching database.");
        }

        for (var version = (int)current + 1; version <= migrations.Count; version++)
        {
            await using var migrate = Command(connection, migrations[version - 1]);
            migrate.Transaction = tx;
            await migrate.ExecuteNonQueryAsync(cancellationToken);
            await using var record = Command(connection, "INSERT INTO schema_version (version) VALUES (@v);", ("@v", version));
            record.Transaction = tx;
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
    }

    // ---- deliveries --------------------------------------------------------------------------------------------

    public async Task<bool> RecordDeliveryAsync(Delivery d, CancellationToken cancellationToken = default)
    {
        var inserted = await ExecuteAsync(
            """
            INSERT INTO deliveries (delivery_id, event, action, installation_id, repository, payload, received_at, processed_at)
            VALUES (@id, @event, @action, @inst, @repo, @payload, @received, NULL)
            ON CONFLICT (delivery_id) DO NOTHING;
            """,
            cancellationToken,
            ("@id", d.DeliveryId), ("@event", d.Event), ("@action", d.Action), ("@inst", d.InstallationId),
            ("@repo", d.Repository), ("@payload", d.Payload), ("@received", Ms(d.ReceivedAt)));
        return inserted == 1;
    }

    public async Task<IReadOnlySet<string>> RecordDeliveriesAsync(IReadOnlyList<Delivery> deliveries, CancellationToken cancellationToken = default)
    {
        if (deliveries.Count == 0)
        {
            return new HashSet<string>();
        }

        // One statement and one commit for a whole batch: under load the answer to GitHub waits for one fsync
        // shared by every delivery in the batch instead of one each.
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var sql = new System.Text.StringBuilder(
            "INSERT INTO deliveries (delivery_id, event, action, installation_id, repository, payload, received_at, processed_at) VALUES ");
        for (var i = 0; i < deliveries.Count; i++)
        {
            var d = deliveries[i];
            sql.Append(i == 0 ? "" : ", ").Append($"(@id{i}, @ev{i}, @ac{i}, @in{i}, @re{i}, @pa{i}, @rc{i}, NULL)");
            foreach (var (name, value) in new (string, object?)[]
            {
                ($"@id{i}", d.DeliveryId), ($"@ev{i}", d.Event), ($"@ac{i}", d.Action), ($"@in{i}", d.InstallationId),
                ($"@re{i}", d.Repository), ($"@pa{i}", d.Payload), ($"@rc{i}", Ms(d.ReceivedAt)),
            })
            {
                var p = command.CreateParameter();
                p.ParameterName = name;
                p.Value = value ?? DBNull.Value;
                command.Parameters.Add(p);
            }
        }

        sql.Append(" ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id;");
        command.CommandText = sql.ToString();
        var inserted = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            inserted.Add(reader.GetString(0));
        }
        return inserted;
    }

    public async Task<Delivery?> GetDeliveryAsync(string deliveryId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync(
            "SELECT delivery_id, event, action, installation_id, repository, payload, received_at, processed_at FROM deliveries WHERE delivery_id = @id;",
            r => new Delivery(r.GetString(0), r.GetString(1), Str(r, 2), Long(r, 3), Str(r, 4), r.GetString(5), FromMs(r, 6)!.Value, FromMs(r, 7)),
            cancellationToken, ("@id", deliveryId));
        return rows.Count == 0 ? null : rows[0];
    }

    public Task MarkDeliveryProcessedAsync(string deliveryId, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE deliveries SET processed_at = @at WHERE delivery_id = @id;", cancellationToken, ("@id", deliveryId), ("@at", Ms(at)));

    public async Task<IReadOnlyList<string>> ListUnprocessedDeliveriesAsync(DateTimeOffset receivedBefore, int limit, CancellationToken cancellationToken = default) =>
        await QueryAsync(
            "SELECT delivery_id FROM deliveries WHERE processed_at IS NULL AND received_at < @before ORDER BY received_at LIMIT @limit;",
            r => r.GetString(0), cancellationToken, ("@before", Ms(receivedBefore)), ("@limit", limit));

    public async Task<IReadOnlyList<string>> ClaimDeliveriesToEnqueueAsync(int limit, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        // SKIP LOCKED lets several web processes dispatch side by side, each delivery claimed by exactly one.
        var lockClause = _dialect == Dialect.Postgres ? "FOR UPDATE SKIP LOCKED" : "";
        return await QueryAsync(
            $"""
            UPDATE deliveries SET enqueued_at = @now
            WHERE delivery_id IN (SELECT delivery_id FROM deliveries WHERE enqueued_at IS NULL ORDER BY received_at LIMIT @limit {lockClause})
            RETURNING delivery_id;
            """,
            r => r.GetString(0), cancellationToken, ("@now", Ms(now)), ("@limit", limit));
    }

    public Task<int> ReleaseStaleDeliveriesAsync(DateTimeOffset enqueuedBefore, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE deliveries SET enqueued_at = NULL WHERE processed_at IS NULL AND enqueued_at < @before;",
            cancellationToken, ("@before", Ms(enqueuedBefore)));

    public async Task<long> CountDeliveriesAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, "SELECT COUNT(*) FROM deliveries;");
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    // ---- heads -------------------------------------------------------------------------------------------------

    private const string HeadColumns =
        "id, installation_id, owner, repo, pr_number, head_sha, base_sha, base_ref, author, status, aggregate_check_run_id, problems";

    private static PullRequestHead MapHead(DbDataReader r) => MapHeadAt(r, 0);

    /// <summary>A head whose columns start at ordinal <paramref name="o"/> (after a run's, in a join).</summary>
    private static PullRequestHead MapHeadAt(DbDataReader r, int o) => new()
    {
        Id = r.GetInt64(o + 0),
        Repo = new RepoRef(r.GetInt64(o + 1), r.GetString(o + 2), r.GetString(o + 3)),
        Number = r.GetInt32(o + 4),
        HeadSha = r.GetString(o + 5),
        BaseSha = r.GetString(o + 6),
        BaseRef = r.GetString(o + 7),
        Author = r.GetString(o + 8),
        Status = RunStatusNames.ParseHeadStatus(r.GetString(o + 9)),
        AggregateCheckRunId = Long(r, o + 10),
        Problems = Str(r, o + 11),
    };

    public async Task<PullRequestHead> UpsertHeadAsync(RepoRef repo, int number, string headSha, string baseSha, string baseRef, string author, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await ExecuteAsync(
            """
            INSERT INTO pr_heads (installation_id, owner, repo, pr_number, head_sha, base_sha, base_ref, author, status, created_at, updated_at)
            VALUES (@inst, @owner, @repo, @pr, @head, @base, @baseRef, @author, 'discovering', @now, @now)
            ON CONFLICT (owner, repo, pr_number, head_sha) DO NOTHING;
            """,
            cancellationToken,
            ("@inst", repo.InstallationId), ("@owner", repo.Owner), ("@repo", repo.Name), ("@pr", number), ("@head", headSha),
            ("@base", baseSha), ("@baseRef", baseRef), ("@author", author), ("@now", Ms(now)));
        var rows = await QueryAsync(
            $"SELECT {HeadColumns} FROM pr_heads WHERE owner = @owner AND repo = @repo AND pr_number = @pr AND head_sha = @head;",
            MapHead, cancellationToken, ("@owner", repo.Owner), ("@repo", repo.Name), ("@pr", number), ("@head", headSha));
        return rows[0];
    }

    public async Task<PullRequestHead?> GetHeadAsync(long headId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync($"SELECT {HeadColumns} FROM pr_heads WHERE id = @id;", MapHead, cancellationToken, ("@id", headId));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<PullRequestHead>> ListHeadsAsync(RepoRef repo, int number, CancellationToken cancellationToken = default) =>
        await QueryAsync(
            $"SELECT {HeadColumns} FROM pr_heads WHERE owner = @owner AND repo = @repo AND pr_number = @pr ORDER BY id;",
            MapHead, cancellationToken, ("@owner", repo.Owner), ("@repo", repo.Name), ("@pr", number));

    public async Task<IReadOnlyList<PullRequestHead>> ListHeadsBySha(RepoRef repo, string headSha, CancellationToken cancellationToken = default) =>
        await QueryAsync(
            $"SELECT {HeadColumns} FROM pr_heads WHERE owner = @owner AND repo = @repo AND head_sha = @head ORDER BY id;",
            MapHead, cancellationToken, ("@owner", repo.Owner), ("@repo", repo.Name), ("@head", headSha));

    public async Task<IReadOnlyList<PullRequestHead>> ListOpenHeadsAsync(RepoRef repo, string baseRef, CancellationToken cancellationToken = default) =>
        await QueryAsync(
            $"SELECT {HeadColumns} FROM pr_heads WHERE owner = @owner AND repo = @repo AND base_ref = @base AND status IN (@s1, @s2, @s3) ORDER BY id;",
            MapHead, cancellationToken, ("@owner", repo.Owner), ("@repo", repo.Name), ("@base", baseRef),
            ("@s1", HeadStatus.Discovering.ToDb()), ("@s2", HeadStatus.Discovered.ToDb()), ("@s3", HeadStatus.DiscoveryFailed.ToDb()));

    public Task SetHeadAggregateCheckRunAsync(long headId, long checkRunId, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE pr_heads SET aggregate_check_run_id = @c WHERE id = @id;", cancellationToken, ("@id", headId), ("@c", checkRunId));

    public Task SetHeadStatusAsync(long headId, HeadStatus status, string? problems, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE pr_heads SET status = @s, problems = @p, updated_at = @now WHERE id = @id;", cancellationToken,
            ("@id", headId), ("@s", status.ToDb()), ("@p", problems), ("@now", Ms(now)));

    // ---- runs --------------------------------------------------------------------------------------------------

    private const string RunColumns =
        "id, head_id, project_path, destroy, plan_sha, status, check_run_id, attempts, reasons, plan_sha256, fingerprint, summary, error, started_at, finished_at";

    private static ProjectRun MapRun(DbDataReader r) => MapRunAt(r, 0);

    private static ProjectRun MapRunAt(DbDataReader r, int o) => new()
    {
        Id = r.GetInt64(o + 0),
        HeadId = r.GetInt64(o + 1),
        ProjectPath = r.GetString(o + 2),
        Destroy = r.GetInt32(o + 3) != 0,
        PlanSha = r.GetString(o + 4),
        Status = RunStatusNames.ParseRunStatus(r.GetString(o + 5)),
        CheckRunId = Long(r, o + 6),
        Attempts = r.GetInt32(o + 7),
        Reasons = Str(r, o + 8),
        PlanSha256 = Str(r, o + 9),
        Fingerprint = Str(r, o + 10),
        Summary = Str(r, o + 11),
        Error = Str(r, o + 12),
        StartedAt = FromMs(r, o + 13),
        FinishedAt = FromMs(r, o + 14),
    };

    public async Task<ProjectRun> AddRunAsync(long headId, string projectPath, bool destroy, string planSha, string reasons, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        // The new row comes back from the insert; only a run that already existed is read (a discovery run again).
        var rows = await QueryAsync(
            $"""
            INSERT INTO project_runs (head_id, project_path, destroy, plan_sha, status, reasons, created_at, updated_at)
            VALUES (@head, @path, @destroy, @sha, 'queued', @reasons, @now, @now)
            ON CONFLICT (head_id, project_path) DO NOTHING
            RETURNING {RunColumns};
            """,
            MapRun, cancellationToken,
            ("@head", headId), ("@path", projectPath), ("@destroy", destroy ? 1 : 0), ("@sha", planSha), ("@reasons", reasons), ("@now", Ms(now)));
        if (rows.Count == 0)
        {
            rows = await QueryAsync($"SELECT {RunColumns} FROM project_runs WHERE head_id = @head AND project_path = @path;",
                MapRun, cancellationToken, ("@head", headId), ("@path", projectPath));
        }

        return rows[0];
    }

    /// <summary>Rows per insert of <see cref="AddRunsAsync"/>: 4 parameters each stays far below both databases' limits.</summary>
    public const int RunsPerInsert = 500;

    public async Task AddRunsAsync(long headId, IReadOnlyList<NewRun> runs, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        foreach (var chunk in runs.Chunk(RunsPerInsert))
        {
            var parameters = new List<(string, object?)>(2 + chunk.Length * 4) { ("@head", headId), ("@now", Ms(now)) };
            var rows = new StringBuilder();
            for (var i = 0; i < chunk.Length; i++)
            {
                rows.Append(i == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture, $"(@head, @p{i}, @d{i}, @s{i}, 'queued', @r{i}, @now, @now)");
                parameters.AddRange([($"@p{i}", chunk[i].ProjectPath), ($"@d{i}", chunk[i].Destroy ? 1 : 0), ($"@s{i}", chunk[i].PlanSha), ($"@r{i}", chunk[i].Reasons)]);
            }

            await ExecuteAsync(
                $"""
                INSERT INTO project_runs (head_id, project_path, destroy, plan_sha, status, reasons, created_at, updated_at)
                VALUES {rows}
                ON CONFLICT (head_id, project_path) DO NOTHING;
                """,
                cancellationToken, [.. parameters]);
        }
    }

    public async Task<RunAndHead?> GetRunAndHeadAsync(long runId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync(RunAndHeadSql, r => new RunAndHead(MapRunAt(r, 0), MapHeadAt(r, RunColumnCount)), cancellationToken, ("@id", runId));
        return rows.Count == 0 ? null : rows[0];
    }

    private static readonly int RunColumnCount = RunColumns.Split(", ").Length;

    private static readonly string RunAndHeadSql =
        $"SELECT {Qualified(RunColumns, "r")}, {Qualified(HeadColumns, "h")} FROM project_runs r JOIN pr_heads h ON h.id = r.head_id WHERE r.id = @id;";

    private static string Qualified(string columns, string table) => string.Join(", ", columns.Split(", ").Select(c => $"{table}.{c}"));

    public async Task<ProjectRun?> GetRunAsync(long runId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync($"SELECT {RunColumns} FROM project_runs WHERE id = @id;", MapRun, cancellationToken, ("@id", runId));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<ProjectRun>> ListRunsAsync(long headId, CancellationToken cancellationToken = default) =>
        await QueryAsync($"SELECT {RunColumns} FROM project_runs WHERE head_id = @head ORDER BY project_path;", MapRun, cancellationToken, ("@head", headId));

    public async Task<PublishedMemo?> GetPublishedWhilePlanningAsync(long headId, string target, CancellationToken cancellationToken = default) =>
        (await QueryAsync("""
            SELECT digest, interim, published_at, flush_due FROM published
            WHERE target = @t AND EXISTS (SELECT 1 FROM project_runs WHERE head_id = @head AND status IN ('queued', 'planning'));
            """, MapPublished, cancellationToken, ("@t", target), ("@head", headId))).SingleOrDefault();

    public async Task<IReadOnlyList<ProjectRun>> ListUnfinishedRunsAsync(CancellationToken cancellationToken = default) =>
        await QueryAsync($"SELECT {RunColumns} FROM project_runs WHERE status IN ('queued', 'planning') ORDER BY id;", MapRun, cancellationToken);

    public async Task<IReadOnlyList<ProjectRun>> ListMergedRunsToApplyAsync(CancellationToken cancellationToken = default) =>
        await QueryAsync($"""
            SELECT {RunColumns} FROM project_runs
            WHERE status IN ('approved', 'applying') AND head_id IN (SELECT head_id FROM merges)
            ORDER BY id;
            """, MapRun, cancellationToken);

    public Task SetRunCheckRunAsync(long runId, long checkRunId, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE project_runs SET check_run_id = @c WHERE id = @id;", cancellationToken, ("@id", runId), ("@c", checkRunId));

    public async Task<ProjectRun?> TransitionRunAsync(long runId, IReadOnlyCollection<RunStatus> from, RunUpdate u, CancellationToken cancellationToken = default)
    {
        if (from.Count == 0)
        {
            throw new ArgumentException("A transition needs at least one state to come from.", nameof(from));
        }

        var parameters = new List<(string, object?)>
        {
            ("@id", runId), ("@status", u.Status.ToDb()), ("@at", Ms(u.At)),
            ("@sha256", u.PlanSha256), ("@fp", u.Fingerprint), ("@summary", u.Summary), ("@error", u.Error),
        };
        var fromNames = new List<string>();
        var i = 0;
        foreach (var status in from)
        {
            var name = $"@from{i++}";
            fromNames.Add(name);
            parameters.Add((name, status.ToDb()));
        }

        var sql = $"""
            UPDATE project_runs SET
                status = @status,
                updated_at = @at,
                attempts = attempts + {(u.IncrementAttempts ? 1 : 0)},
                started_at = {(u.SetStarted ? "@at" : "started_at")},
                finished_at = {(u.SetFinished ? "@at" : "finished_at")},
                plan_sha256 = COALESCE(@sha256, plan_sha256),
                fingerprint = COALESCE(@fp, fingerprint),
                summary = COALESCE(@summary, summary),
                error = COALESCE(@error, error)
            WHERE id = @id AND status IN ({string.Join(", ", fromNames)})
            RETURNING {RunColumns};
            """;
        var rows = await QueryAsync(sql, MapRun, cancellationToken, [.. parameters]);
        return rows.Count == 0 ? null : rows[0];
    }

    // ---- approvals ---------------------------------------------------------------------------------------------

    public async Task<bool> ApproveRunAsync(long runId, string fingerprint, Approval approval, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        // The approval holds only for the plan it was given for: same run, still awaiting approval, same fingerprint.
        await using (var update = Command(connection,
            "UPDATE project_runs SET status = 'approved', updated_at = @now WHERE id = @id AND status = 'awaiting_approval' AND fingerprint = @fp;",
            ("@id", runId), ("@fp", fingerprint), ("@now", Ms(now))))
        {
            update.Transaction = tx;
            if (await update.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                await tx.RollbackAsync(cancellationToken);
                return false;
            }
        }

        await using (var insert = Command(connection,
            """
            INSERT INTO approvals (run_id, owner, repo, pr_number, project_path, head_sha, fingerprint, plan_sha256, approved_by, kind, approved_at)
            SELECT r.id, h.owner, h.repo, h.pr_number, r.project_path, h.head_sha, r.fingerprint, r.plan_sha256, @by, @kind, @at
            FROM project_runs r JOIN pr_heads h ON h.id = r.head_id WHERE r.id = @id;
            """,
            ("@id", runId), ("@by", approval.ApprovedBy), ("@kind", approval.Automatic ? "automatic" : "manual"), ("@at", Ms(approval.At))))
        {
            insert.Transaction = tx;
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    }

    private const string ApprovalColumns = "run_id, project_path, head_sha, fingerprint, plan_sha256, approved_by, kind, approved_at";

    private static ApprovalAudit MapApproval(DbDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), Str(r, 4), r.GetString(5), r.GetString(6) == "automatic", FromMs(r, 7)!.Value);

    public async Task<ApprovalAudit?> LastApprovalAsync(RepoRef repo, int number, string projectPath, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync(
            $"SELECT {ApprovalColumns} FROM approvals WHERE owner = @owner AND repo = @repo AND pr_number = @pr AND project_path = @path ORDER BY approved_at DESC, id DESC LIMIT 1;",
            MapApproval, cancellationToken, ("@owner", repo.Owner), ("@repo", repo.Name), ("@pr", number), ("@path", projectPath));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<ApprovalAudit>> ListApprovalsAsync(RepoRef repo, int number, CancellationToken cancellationToken = default) =>
        await QueryAsync(
            $"SELECT {ApprovalColumns} FROM approvals WHERE owner = @owner AND repo = @repo AND pr_number = @pr ORDER BY approved_at, id;",
            MapApproval, cancellationToken, ("@owner", repo.Owner), ("@repo", repo.Name), ("@pr", number));

    // ---- locks -------------------------------------------------------------------------------------------------

    public Task<IAsyncDisposable> LockProjectAsync(RepoRef repo, string projectPath, CancellationToken cancellationToken = default)
    {
        // A stable 32-bit key from the repository and project (string.GetHashCode is randomised per process).
        var bytes = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{repo.FullName.ToLowerInvariant()}\n{projectPath}"));
        return LockAsync(0x70726A, BitConverter.ToInt32(bytes, 0), cancellationToken);
    }

    public Task<IAsyncDisposable> LockHeadAsync(long headId, CancellationToken cancellationToken = default) =>
        LockAsync(0x656E73, unchecked((int)headId), cancellationToken);

    private readonly ConcurrentDictionary<(int, int), SemaphoreSlim> _keyedLocks = new();

    private async Task<IAsyncDisposable> LockAsync(int space, int key, CancellationToken cancellationToken)
    {
        if (_lockConnections is null)
        {
            // The embedded store serves exactly one process, so an in-process lock is the whole truth.
            var semaphore = _keyedLocks.GetOrAdd((space, key), _ => new SemaphoreSlim(1, 1));
            await semaphore.WaitAsync(cancellationToken);
            return new Releaser(() => { semaphore.Release(); return ValueTask.CompletedTask; });
        }

        // A session advisory lock dies with its connection, so a killed worker never leaves a head locked.
        var connection = await _lockConnections.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = Command(connection, "SELECT pg_advisory_lock(@k1, @k2);", ("@k1", space), ("@k2", key));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch
        {
            // Cancelled while waiting (or the server went away): closed, since a cancel that raced the grant may have
            // left the lock held on it.
            await SessionLocks.AbandonAsync(connection);
            throw;
        }

        return new Releaser(async () =>
        {
            try
            {
                await using var unlock = Command(connection, "SELECT pg_advisory_unlock(@k1, @k2);", ("@k1", space), ("@k2", key));
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

    private sealed class Releaser(Func<ValueTask> release) : IAsyncDisposable
    {
        private int _released;
        public ValueTask DisposeAsync() => Interlocked.Exchange(ref _released, 1) == 0 ? release() : ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        if (_lockConnections is not null)
        {
            await _lockConnections.DisposeAsync();
        }
    }

    // ---- merges and applies ------------------------------------------------------------------------------------

    private const string MergeColumns = "id, head_id, merge_sha, comment_id, created_at";

    private static MergeRecord MapMerge(DbDataReader r) => new(r.GetInt64(0), r.GetInt64(1), r.GetString(2), Long(r, 3), FromMs(r, 4)!.Value);

    public async Task<MergeRecord> RecordMergeAsync(long headId, string mergeSha, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await ExecuteAsync(
            "INSERT INTO merges (head_id, merge_sha, created_at) VALUES (@head, @sha, @now) ON CONFLICT (head_id) DO NOTHING;",
            cancellationToken, ("@head", headId), ("@sha", mergeSha), ("@now", Ms(now)));
        return (await GetMergeByHeadAsync(headId, cancellationToken))!;
    }

    public async Task<MergeRecord?> GetMergeByHeadAsync(long headId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync($"SELECT {MergeColumns} FROM merges WHERE head_id = @head;", MapMerge, cancellationToken, ("@head", headId));
        return rows.Count == 0 ? null : rows[0];
    }

    public Task SetMergeCommentAsync(long mergeId, long commentId, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE merges SET comment_id = @c WHERE id = @id;", cancellationToken, ("@id", mergeId), ("@c", commentId));

    private const string ApplyColumns = "run_id, merge_id, job_id, merge_check_run_id, outcome, message, started_at, finished_at";

    private static ApplyRecord MapApply(DbDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetString(2), Long(r, 3),
        r.IsDBNull(4) ? null : ApplyOutcomeNames.Parse(r.GetString(4)), Str(r, 5), FromMs(r, 6)!.Value, FromMs(r, 7));

    public async Task<bool> StartApplyAsync(long runId, long mergeId, string jobId, IReadOnlyCollection<RunStatus> from, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var parameters = new List<(string, object?)> { ("@id", runId), ("@now", Ms(now)) };
        var names = from.Select((status, i) => { parameters.Add(($"@from{i}", status.ToDb())); return $"@from{i}"; }).ToList();
        await using (var update = Command(connection,
            $"UPDATE project_runs SET status = 'applying', updated_at = @now WHERE id = @id AND status IN ({string.Join(", ", names)});",
            [.. parameters]))
        {
            update.Transaction = tx;
            if (names.Count == 0 || await update.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                await tx.RollbackAsync(cancellationToken);
                return false;
            }
        }

        await using (var insert = Command(connection,
            """
            INSERT INTO applies (run_id, merge_id, job_id, started_at) VALUES (@id, @merge, @job, @now)
            ON CONFLICT (run_id) DO NOTHING;
            """,
            ("@id", runId), ("@merge", mergeId), ("@job", jobId), ("@now", Ms(now))))
        {
            insert.Transaction = tx;
            if (await insert.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                await tx.RollbackAsync(cancellationToken);
                return false;
            }
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<bool> FinishApplyAsync(long runId, RunStatus to, IReadOnlyCollection<RunStatus> from, ApplyOutcome outcome, string message, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var parameters = new List<(string, object?)>
        {
            ("@id", runId), ("@now", Ms(now)), ("@to", to.ToDb()), ("@error", to == RunStatus.Applied ? null : message),
        };
        var names = from.Select((status, i) => { parameters.Add(($"@from{i}", status.ToDb())); return $"@from{i}"; }).ToList();
        await using (var update = Command(connection,
            $"UPDATE project_runs SET status = @to, updated_at = @now, error = COALESCE(@error, error) WHERE id = @id AND status IN ({string.Join(", ", names)});",
            [.. parameters]))
        {
            update.Transaction = tx;
            if (names.Count == 0 || await update.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                await tx.RollbackAsync(cancellationToken);
                return false;
            }
        }

        await using (var record = Command(connection,
            "UPDATE applies SET outcome = @outcome, message = @message, finished_at = @now WHERE run_id = @id;",
            ("@id", runId), ("@outcome", outcome.ToDb()), ("@message", message), ("@now", Ms(now))))
        {
            record.Transaction = tx;
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<ApplyRecord?> GetApplyAsync(long runId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync($"SELECT {ApplyColumns} FROM applies WHERE run_id = @id;", MapApply, cancellationToken, ("@id", runId));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<ApplyRecord>> ListAppliesAsync(long mergeId, CancellationToken cancellationToken = default) =>
        await QueryAsync($"SELECT {ApplyColumns} FROM applies WHERE merge_id = @merge ORDER BY run_id;", MapApply, cancellationToken, ("@merge", mergeId));

    public Task SetApplyCheckRunAsync(long runId, long checkRunId, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE applies SET merge_check_run_id = @c WHERE run_id = @id;", cancellationToken, ("@id", runId), ("@c", checkRunId));

    // ---- what was last published ---------------------------------------------------------------------------------

    public async Task<PublishedMemo?> GetPublishedAsync(string target, CancellationToken cancellationToken = default) =>
        (await QueryAsync("SELECT digest, interim, published_at, flush_due FROM published WHERE target = @t;", MapPublished, cancellationToken, ("@t", target)))
            .SingleOrDefault();

    private static PublishedMemo MapPublished(DbDataReader r) => new(r.GetString(0), r.GetInt32(1) != 0, FromMs(r, 2)!.Value, FromMs(r, 3));

    public Task RecordPublishedAsync(string target, string digest, bool interim, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        ExecuteAsync("""
            INSERT INTO published (target, digest, interim, published_at) VALUES (@t, @d, @i, @at)
            ON CONFLICT (target) DO UPDATE SET digest = excluded.digest, interim = excluded.interim, published_at = excluded.published_at;
            """, cancellationToken, ("@t", target), ("@d", digest), ("@i", interim ? 1 : 0), ("@at", Ms(at)));

    public async Task<bool> TryScheduleFlushAsync(string target, DateTimeOffset due, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        await ExecuteAsync("UPDATE published SET flush_due = @due WHERE target = @t AND (flush_due IS NULL OR flush_due < @now);",
            cancellationToken, ("@t", target), ("@due", Ms(due)), ("@now", Ms(now))) == 1;
}
