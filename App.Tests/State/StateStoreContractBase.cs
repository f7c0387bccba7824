using Ensemble.Jobs.State;

namespace Ensemble.Tests.State;

/// <summary>
/// A state-store contract run on both dialects: the dialect's subclass creates the store, which is migrated before each
/// test and disposed after it.
/// </summary>
public abstract class StateStoreContractBase : IAsyncLifetime
{
    protected SqlStateStore Store { get; private set; } = null!;

    protected abstract Task<SqlStateStore> CreateAsync();

    public async Task InitializeAsync()
    {
        Store = await CreateAsync();
        await Store.MigrateAsync();
    }

    public async Task DisposeAsync() => await Store.DisposeAsync();
}

/// <summary>A SQLite state file in a temporary directory of its own, removed when disposed.</summary>
public sealed class SqliteStateFile : IDisposable
{
    private readonly string _directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ensemble-sqlite-" + Guid.NewGuid().ToString("n"));

    public string Path => System.IO.Path.Combine(_directory, "state.db");

    public SqlStateStore Open() => SqlStateStore.ForSqlite(Path);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Never created (no test opened it) or already gone.
        }
    }
}
