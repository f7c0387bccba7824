using System.Data.Common;
using Npgsql;

namespace Ensemble.Jobs.State;

/// <summary>
/// PostgreSQL session advisory locks live as long as their session, and their pools skip Npgsql's reset on return
/// (<c>NoResetOnClose</c>, which would cost a <c>DISCARD ALL</c> per use). So a connection whose lock or unlock failed
/// — a cancel that raced the grant, a failed unlock — is closed instead of going back to the pool with a lock on it.
/// </summary>
internal static class SessionLocks
{
    public static async ValueTask AbandonAsync(DbConnection connection)
    {
        ClearPoolOf(connection);
        await connection.DisposeAsync();
    }

    /// <summary><see cref="AbandonAsync"/> for synchronous callers (Hangfire's locks).</summary>
    public static void Abandon(DbConnection connection)
    {
        ClearPoolOf(connection);
        connection.Dispose();
    }

    private static void ClearPoolOf(DbConnection connection)
    {
        if (connection is NpgsqlConnection npgsql)
        {
            // Idle connections of the pool close now and busy ones (this one) when returned: its session, and any
            // lock it holds, ends.
            NpgsqlConnection.ClearPool(npgsql);
        }
    }
}
