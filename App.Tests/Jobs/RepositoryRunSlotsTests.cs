using Ensemble.Jobs.Core;
using Ensemble.Jobs.Jobs;
using Ensemble.Tests.Infrastructure;

namespace Ensemble.Tests.Jobs;

public sealed class RepositoryRunSlotsTests
{
    private static readonly RepoRef Monorepo = new(1, "octo-org", "monorepo");
    private static readonly RepoRef Other = new(1, "octo-org", "infra");

    [Theory]
    [InlineData(8, 8, "Waiting: 8 runs of this repository already running (limit 8)")]
    [InlineData(1, 1, "Waiting: 1 run of this repository already running (limit 1)")]
    public void WaitingText_AllSlotsTaken_SaysHowManyRunAndTheLimit(int running, int limit, string expected) =>
        Assert.Equal(expected, RepositoryRunSlots.WaitingText(running, limit));

    [Fact]
    public async Task InProcess_LimitReached_NoSlotUntilOneIsReleased()
    {
        await using var slots = RepositoryRunSlots.InProcess();
        var first = await slots.TryAcquireAsync(Monorepo, 2);
        var second = await slots.TryAcquireAsync(Monorepo, 2);
        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Null(await slots.TryAcquireAsync(Monorepo, 2));

        await first.DisposeAsync();
        await first.DisposeAsync(); // a second release must not free a slot someone else holds

        var third = await slots.TryAcquireAsync(Monorepo, 2);
        Assert.NotNull(third);
        Assert.Null(await slots.TryAcquireAsync(Monorepo, 2));
    }

    [Fact]
    public async Task InProcess_OneRepositoryFull_OtherRepositoryStillRuns()
    {
        await using var slots = RepositoryRunSlots.InProcess();
        Assert.NotNull(await slots.TryAcquireAsync(Monorepo, 1));
        Assert.Null(await slots.TryAcquireAsync(new RepoRef(2, "OCTO-ORG", "MONOREPO"), 1));
        Assert.NotNull(await slots.TryAcquireAsync(Other, 1));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task TryAcquire_NoCap_AlwaysASlot(int limit)
    {
        await using var slots = RepositoryRunSlots.InProcess();
        for (var i = 0; i < 50; i++)
        {
            Assert.NotNull(await slots.TryAcquireAsync(Monorepo, limit));
        }
    }

    [Fact]
    public async Task FirstWait_SecondTimeSilent_UntilTheRunStarted()
    {
        await using var slots = RepositoryRunSlots.InProcess();
        Assert.True(slots.FirstWait(42));
        Assert.False(slots.FirstWait(42));
        Assert.True(slots.FirstWait(43));
        slots.Started(42);
        Assert.True(slots.FirstWait(42));
    }

    [Fact]
    public void SlotKey_DiffersPerSlotAndRepository()
    {
        var keys = new[]
        {
            RepositoryRunSlots.SlotKey("octo-org/monorepo", 0), RepositoryRunSlots.SlotKey("octo-org/monorepo", 1),
            RepositoryRunSlots.SlotKey("octo-org/infra", 0), RepositoryRunSlots.SlotKey("octo-org/infra", 1),
        };
        Assert.Equal(keys.Length, keys.Distinct().Count());
    }
}

/// <summary>The cap across worker processes: each <see cref="RepositoryRunSlots"/> here stands for one worker.</summary>
[Trait("Category", Categories.Integration)]
public sealed class PostgresRepositoryRunSlotsTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private static readonly RepoRef Monorepo = new(1, "octo-org", "monorepo");

    [Fact]
    public async Task TryAcquire_TwoWorkers_CapHoldsAcrossThem()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var workerA = RepositoryRunSlots.ForPostgres(connection);
        await using var workerB = RepositoryRunSlots.ForPostgres(connection);

        var a = await workerA.TryAcquireAsync(Monorepo, 2);
        var b = await workerB.TryAcquireAsync(Monorepo, 2);
        Assert.NotNull(a);
        Assert.NotNull(b);
        Assert.Null(await workerA.TryAcquireAsync(Monorepo, 2));
        Assert.Null(await workerB.TryAcquireAsync(Monorepo, 2));
        Assert.NotNull(await workerB.TryAcquireAsync(new RepoRef(1, "octo-org", "infra"), 2));

        await a.DisposeAsync();
        Assert.NotNull(await workerB.TryAcquireAsync(Monorepo, 2));
    }

    [Fact]
    public async Task TryAcquire_CapOfEight_EachRunTakesExactlyOneSlot()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var worker = RepositoryRunSlots.ForPostgres(connection);

        var held = new List<IAsyncDisposable>();
        for (var i = 0; i < 8; i++)
        {
            held.Add(await worker.TryAcquireAsync(Monorepo, 8) ?? throw new Xunit.Sdk.XunitException($"run {i + 1} of 8 found no slot"));
        }

        Assert.Null(await worker.TryAcquireAsync(Monorepo, 8));
        await held[3].DisposeAsync();
        held.Add(await worker.TryAcquireAsync(Monorepo, 8) ?? throw new Xunit.Sdk.XunitException("the freed slot was not found"));
        Assert.Null(await worker.TryAcquireAsync(Monorepo, 8));
        foreach (var slot in held)
        {
            await slot.DisposeAsync();
        }
    }

    [Fact]
    public async Task TryAcquire_HolderConnectionDies_SlotFreed()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var survivor = RepositoryRunSlots.ForPostgres(connection);
        await using var dying = RepositoryRunSlots.ForPostgres(connection);
        Assert.NotNull(await dying.TryAcquireAsync(Monorepo, 1));
        Assert.Null(await survivor.TryAcquireAsync(Monorepo, 1));

        // A worker killed mid-run.
        await PostgresFixture.EndSessionsHoldingAdvisoryLocksAsync(connection);

        IAsyncDisposable? slot = null;
        for (var i = 0; i < 100 && slot is null; i++)
        {
            slot = await survivor.TryAcquireAsync(Monorepo, 1);
            if (slot is null)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(slot);
    }
}
