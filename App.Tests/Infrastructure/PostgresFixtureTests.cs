using Npgsql;

namespace Ensemble.Tests.Infrastructure;

[Trait("Category", Categories.Integration)]
public sealed class PostgresFixtureTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task CreateDatabaseAsync_TwoCalls_GiveSeparateDatabases()
    {
        var first = await postgres.CreateDatabaseAsync();
        var second = await postgres.CreateDatabaseAsync();

        await ExecuteAsync(first, "CREATE TABLE only_in_first (id int)");

        Assert.NotEqual(await ScalarAsync<string>(first, "SELECT current_database()"), await ScalarAsync<string>(second, "SELECT current_database()"));
        Assert.Equal(0L, await ScalarAsync<long>(second, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_first'"));
        Assert.Equal(1L, await ScalarAsync<long>(first, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_first'"));
    }

    [Fact]
    public async Task DisposeAsync_CreatedDatabase_IsDropped()
    {
        var fixture = new PostgresFixture();
        var connectionString = await fixture.CreateDatabaseAsync();
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await ExecuteAsync(connectionString, "SELECT 1"); // leaves a pooled connection open, as a test would

        await fixture.DisposeAsync();

        var admin = TestServices.PostgresConnectionString;
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = @name", connection);
        command.Parameters.AddWithValue("name", name);
        Assert.Equal(0L, (long)(await command.ExecuteScalarAsync())!);
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
