using System.Data.Common;
using Npgsql;

namespace Ensemble.Jobs.State;

/// <summary>
/// How Ensemble's PostgreSQL pools connect, from the operator's <c>Database:ConnectionString</c>: the state store's,
/// Hangfire's, and the pools that hold session advisory locks all use these settings.
/// </summary>
public static class PostgresPools
{
    /// <summary>Npgsql's automatic preparation when the connection string does not choose (<c>Max Auto Prepare</c>).</summary>
    public const int DefaultMaxAutoPrepare = 64;

    /// <summary>
    /// The operator's connection string, plus:
    /// <list type="bullet">
    /// <item>No reset on return to the pool (<c>NoResetOnClose</c>): <c>DISCARD ALL</c> was a third of the statements a
    /// plan sent. Nothing Ensemble or Hangfire runs leaves session state but session advisory locks, which are always
    /// unlocked explicitly, or their connection closed when that fails (<see cref="SessionLocks"/>).</item>
    /// <item>Automatic preparation (<c>Max Auto Prepare=64</c>) unless the operator set it: each plan repeats the same few
    /// dozen statements, which PostgreSQL then parses and plans once per connection instead of every time. Behind
    /// PgBouncer in transaction mode before 1.21, which cannot keep prepared statements, set <c>Max Auto Prepare=0</c>.</item>
    /// </list>
    /// </summary>
    public static string ConnectionString(string configured)
    {
        var builder = new NpgsqlConnectionStringBuilder(configured) { NoResetOnClose = true };
        if (!Sets(configured, "maxautoprepare"))
        {
            builder.MaxAutoPrepare = DefaultMaxAutoPrepare;
        }

        return builder.ConnectionString;
    }

    public static NpgsqlDataSource Create(string configured) => NpgsqlDataSource.Create(ConnectionString(configured));

    /// <summary>Whether the connection string itself names <paramref name="key"/> (any spelling: spaces and case ignored).</summary>
    private static bool Sets(string connectionString, string key) =>
        new DbConnectionStringBuilder { ConnectionString = connectionString }.Keys.Cast<string>()
            .Any(k => string.Equals(k.Replace(" ", "", StringComparison.Ordinal), key, StringComparison.OrdinalIgnoreCase));
}
