using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;

namespace Ensemble.Tests.State;

/// <summary><see cref="IStateStore.ListOpenHeadsAsync"/> on both dialects: what a push to a branch may make stale.</summary>
public abstract class OpenHeadsStoreContract : StateStoreContractBase
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly RepoRef Repo = new(1, "octo-org", "infra");

    private Task<PullRequestHead> HeadAsync(RepoRef repo, int number, char sha, string baseRef) =>
        Store.UpsertHeadAsync(repo, number, new string(sha, 40), new string('0', 40), baseRef, "alice", T0);

    [Fact]
    public async Task ListOpenHeads_MixedHeads_OnlyOpenOnesIntoThatBranchOfThatRepo()
    {
        var superseded = await HeadAsync(Repo, 1, 'a', "main");
        await Store.SetHeadStatusAsync(superseded.Id, HeadStatus.Superseded, null, T0);
        var latest = await HeadAsync(Repo, 1, 'b', "main");
        await Store.SetHeadStatusAsync(latest.Id, HeadStatus.Discovered, null, T0);
        var closed = await HeadAsync(Repo, 2, 'c', "main");
        await Store.SetHeadStatusAsync(closed.Id, HeadStatus.Closed, null, T0);
        var discovering = await HeadAsync(Repo, 3, 'd', "main");
        await HeadAsync(Repo, 4, 'e', "release");
        await HeadAsync(Repo with { Name = "other" }, 5, 'f', "main");

        var open = await Store.ListOpenHeadsAsync(Repo, "main");

        Assert.Equal([latest.Id, discovering.Id], open.Select(h => h.Id));
        Assert.Equal(HeadStatus.Discovered, open[0].Status);
    }
}

[Trait("Category", Categories.Integration)]
public sealed class PostgresOpenHeadsStoreTests(PostgresFixture postgres) : OpenHeadsStoreContract, IClassFixture<PostgresFixture>
{
    protected override async Task<SqlStateStore> CreateAsync() => SqlStateStore.ForPostgres(await postgres.CreateDatabaseAsync());
}

public sealed class SqliteOpenHeadsStoreTests : OpenHeadsStoreContract, IDisposable
{
    private readonly SqliteStateFile _file = new();

    protected override Task<SqlStateStore> CreateAsync() => Task.FromResult(_file.Open());

    public void Dispose() => _file.Dispose();
}
