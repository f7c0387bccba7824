using Npgsql;

namespace Ensemble.Tests.Infrastructure;

/// <summary>
/// Fresh PostgreSQL databases for a test class (<c>IClassFixture&lt;PostgresFixture&gt;</c>), on the throwaway cluster
/// from <c>scripts/test</c>. Each database is new and uniquely named, so test classes run in parallel without
/// seeing each other's rows; they are dropped when the class is done.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private readonly List<string> _created = [];
    private readonly Lock _gate = new();

    /// <summary>Creates an empty database and returns a connection string for it.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken = default)
    {
        var admin = TestServices.PostgresConnectionString;
        var name = $"ensemble_test_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        lock (_gate)
        {
            _created.Add(name);
        }

        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    /// <summary>
    /// A worker killed while it held session advisory locks: the server ends every session of <paramref name="database"/>
    /// that holds one, without an unlock. Only that database's: pg_locks is cluster-wide, and tests running in parallel
    /// hold advisory locks of their own (migrations).
    /// </summary>
    public static async Task EndSessionsHoldingAdvisoryLocksAsync(string database)
    {
        await using var admin = new NpgsqlConnection(database);
        await admin.OpenAsync();
        await using var kill = new NpgsqlCommand(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid() " +
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database());", admin);
        await kill.ExecuteNonQueryAsync();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        string[] names;
        lock (_gate)
        {
            names = [.. _created];
            _created.Clear();
        }

        if (names.Length == 0)
        {
            return;
        }

        // Pooled connections of the tests would otherwise keep the databases in use.
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(TestServices.PostgresConnectionString);
        await connection.OpenAsync();
        foreach (var name in names)
        {
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}
