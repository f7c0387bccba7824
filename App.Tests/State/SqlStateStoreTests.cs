using Ensemble.Jobs.Core;
using Ensemble.Jobs.State;
using Ensemble.Tests.Infrastructure;

namespace Ensemble.Tests.State;

/// <summary>The same contract on both dialects: PostgreSQL (real server) and the embedded SQLite file.</summary>
public abstract class SqlStateStoreContract : StateStoreContractBase
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly RepoRef Repo = new(1, "octo-org", "infra");

    private static Delivery D(string id) => new(id, "pull_request", "opened", 1, "octo-org/infra", "{}", T0, null);

    [Fact]
    public async Task RecordDelivery_SameIdTwice_SecondIsARedelivery()
    {
        Assert.True(await Store.RecordDeliveryAsync(D("d-1")));
        Assert.False(await Store.RecordDeliveryAsync(D("d-1")));
        Assert.Equal(1, await Store.CountDeliveriesAsync());
    }

    [Fact]
    public async Task Deliveries_UnprocessedUntilMarked()
    {
        await Store.RecordDeliveryAsync(D("d-1"));
        await Store.RecordDeliveryAsync(D("d-2"));
        await Store.MarkDeliveryProcessedAsync("d-1", T0.AddSeconds(1));

        Assert.Equal(["d-2"], await Store.ListUnprocessedDeliveriesAsync(T0.AddMinutes(1), 10));
        Assert.Equal(T0.AddSeconds(1), (await Store.GetDeliveryAsync("d-1"))!.ProcessedAt);
    }

    [Fact]
    public async Task Published_RecordedReadBackAndReplaced()
    {
        Assert.Null(await Store.GetPublishedAsync("check-run:7"));

        await Store.RecordPublishedAsync("check-run:7", "d1", interim: true, T0);
        Assert.Equal(new PublishedMemo("d1", true, T0, null), await Store.GetPublishedAsync("check-run:7"));

        await Store.RecordPublishedAsync("check-run:7", "d2", interim: false, T0.AddSeconds(3));
        Assert.Equal(new PublishedMemo("d2", false, T0.AddSeconds(3), null), await Store.GetPublishedAsync("check-run:7"));
        Assert.Null(await Store.GetPublishedAsync("comment:7"));
    }

    [Fact]
    public async Task PublishedWhilePlanning_OnlyWhileARunOfThatHeadIsQueuedOrPlanning()
    {
        var head = await Store.UpsertHeadAsync(Repo, 7, "h", "b", "main", "alice", T0);
        var other = await Store.UpsertHeadAsync(Repo, 8, "h8", "b", "main", "alice", T0);
        var dev = await Store.AddRunAsync(head.Id, "envs/dev", false, "h", "changed", T0);
        var prod = await Store.AddRunAsync(head.Id, "envs/prod", false, "h", "changed", T0);
        await Store.AddRunAsync(other.Id, "envs/dev", false, "h8", "changed", T0);
        Assert.Null(await Store.GetPublishedWhilePlanningAsync(head.Id, "check-run:70")); // nothing shown yet

        await Store.RecordPublishedAsync("check-run:70", "d1", interim: true, T0);
        var shown = new PublishedMemo("d1", true, T0, null);
        Assert.Equal(shown, await Store.GetPublishedWhilePlanningAsync(head.Id, "check-run:70"));
        Assert.Null(await Store.GetPublishedWhilePlanningAsync(head.Id, "check-run:71"));

        await Store.TransitionRunAsync(dev.Id, [RunStatus.Queued], new RunUpdate(RunStatus.Planning, T0));
        await Store.TransitionRunAsync(prod.Id, [RunStatus.Queued], new RunUpdate(RunStatus.NoChanges, T0));
        Assert.Equal(shown, await Store.GetPublishedWhilePlanningAsync(head.Id, "check-run:70"));

        // The last plan finished: the aggregate is final now, even though the other head still has one queued.
        await Store.TransitionRunAsync(dev.Id, [RunStatus.Planning], new RunUpdate(RunStatus.AwaitingApproval, T0));
        Assert.Null(await Store.GetPublishedWhilePlanningAsync(head.Id, "check-run:70"));
    }

    [Fact]
    public async Task TryScheduleFlush_OnceWhilePending_AgainWhenOverdue()
    {
        await Store.RecordPublishedAsync("comment:9", "d1", interim: true, T0);

        Assert.True(await Store.TryScheduleFlushAsync("comment:9", T0.AddSeconds(5), T0.AddSeconds(1)));
        Assert.False(await Store.TryScheduleFlushAsync("comment:9", T0.AddSeconds(5), T0.AddSeconds(2)));
        // The scheduled catch-up never came (lost with an in-memory queue): the next deferral schedules another.
        Assert.True(await Store.TryScheduleFlushAsync("comment:9", T0.AddSeconds(12), T0.AddSeconds(10)));
        Assert.False(await Store.TryScheduleFlushAsync("comment:unknown", T0.AddSeconds(5), T0));
    }

    [Fact]
    public async Task MigrateAsync_RunTwice_KeepsData()
    {
        await Store.RecordDeliveryAsync(D("d-1"));
        await Store.MigrateAsync();
        Assert.NotNull(await Store.GetDeliveryAsync("d-1"));
    }

    [Fact]
    public async Task GetRunAndHead_OneReadGivesTheRunAndItsOwnHead()
    {
        var head = await Store.UpsertHeadAsync(Repo, 7, "h7", "b7", "main", "alice", T0);
        var other = await Store.UpsertHeadAsync(new RepoRef(2, "octo-org", "apps"), 8, "h8", "b8", "release", "bob", T0);
        await Store.SetHeadAggregateCheckRunAsync(other.Id, 880);
        await Store.AddRunAsync(head.Id, "envs/dev", false, "h7", "changed", T0);
        var run = await Store.AddRunAsync(other.Id, "envs/prod", true, "h8", "deleted", T0);
        await Store.SetRunCheckRunAsync(run.Id, 881);
        await Store.TransitionRunAsync(run.Id, [RunStatus.Queued],
            new RunUpdate(RunStatus.AwaitingApproval, T0) { IncrementAttempts = true, SetStarted = true, Summary = "+1 ~0 ±0 −2", Fingerprint = "fp" });

        var found = await Store.GetRunAndHeadAsync(run.Id);

        Assert.NotNull(found);
        Assert.Equal(await Store.GetRunAsync(run.Id), found.Run);
        Assert.Equal(await Store.GetHeadAsync(other.Id), found.Head);
        Assert.Equal((881L, "release", 880L), (found.Run.CheckRunId, found.Head.BaseRef, found.Head.AggregateCheckRunId));
        Assert.Null(await Store.GetRunAndHeadAsync(run.Id + 1000));
    }

    [Fact]
    public async Task UpsertHeadAndAddRun_Repeated_ReturnSameRows()
    {
        var head = await Store.UpsertHeadAsync(Repo, 7, "head1", "base1", "main", "alice", T0);
        var again = await Store.UpsertHeadAsync(Repo, 7, "head1", "base1", "main", "alice", T0);
        Assert.Equal(head.Id, again.Id);
        Assert.Equal(HeadStatus.Discovering, head.Status);

        var run = await Store.AddRunAsync(head.Id, "envs/dev", false, "head1", "changed", T0);
        var runAgain = await Store.AddRunAsync(head.Id, "envs/dev", true, "other", "other", T0);
        Assert.Equal(run.Id, runAgain.Id);
        Assert.False(runAgain.Destroy);
        Assert.Equal(RunStatus.Queued, run.Status);
        Assert.Single(await Store.ListRunsAsync(head.Id));
    }

    [Fact]
    public async Task AddRuns_AMonorepoDiscoveryInChunks_AddsEachOnce_AndAgainLeavesExistingRunsAsTheyAre()
    {
        var head = await Store.UpsertHeadAsync(Repo, 7, "head1", "base1", "main", "alice", T0);
        var count = SqlStateStore.RunsPerInsert * 2 + 1; // three statements, the last of one row
        var runs = Enumerable.Range(0, count)
            .Select(i => new NewRun($"stacks/s{i:D4}", Destroy: i % 7 == 0, i % 7 == 0 ? "base1" : "head1", $"changed: stacks/s{i:D4}/main.tf"))
            .ToList();

        await Store.AddRunsAsync(head.Id, runs, T0);
        var planning = (await Store.ListRunsAsync(head.Id)).First(r => r.ProjectPath == "stacks/s0003");
        Assert.NotNull(await Store.TransitionRunAsync(planning.Id, [RunStatus.Queued], new RunUpdate(RunStatus.Planning, T0)));

        // A discovery retried after a crash adds what is missing and changes nothing of what exists.
        await Store.AddRunsAsync(head.Id, [new NewRun("stacks/s0003", true, "other", "other"), new NewRun("stacks/extra", false, "head1", "new")], T0.AddMinutes(1));

        var stored = (await Store.ListRunsAsync(head.Id)).ToDictionary(r => r.ProjectPath);
        Assert.Equal(count + 1, stored.Count);
        Assert.All(runs, r => Assert.Equal((r.Destroy, r.PlanSha, r.Reasons), (stored[r.ProjectPath].Destroy, stored[r.ProjectPath].PlanSha, stored[r.ProjectPath].Reasons)));
        Assert.Equal(RunStatus.Planning, stored["stacks/s0003"].Status);
        Assert.Equal(count, stored.Values.Count(r => r.Status == RunStatus.Queued));
        Assert.Equal("new", stored["stacks/extra"].Reasons);

        await Store.AddRunsAsync(head.Id, [], T0); // nothing to add: no statement, no error
    }

    [Fact]
    public async Task TransitionRun_FromWrongState_RefusedAndNothingChanges()
    {
        var head = await Store.UpsertHeadAsync(Repo, 7, "h", "b", "main", "alice", T0);
        var run = await Store.AddRunAsync(head.Id, "envs/dev", false, "h", "changed", T0);

        Assert.NotNull(await Store.TransitionRunAsync(run.Id, [RunStatus.Queued], new RunUpdate(RunStatus.Planning, T0) { IncrementAttempts = true, SetStarted = true }));
        Assert.Null(await Store.TransitionRunAsync(run.Id, [RunStatus.Queued], new RunUpdate(RunStatus.Planning, T0) { IncrementAttempts = true }));
        Assert.NotNull(await Store.TransitionRunAsync(run.Id, [RunStatus.Planning],
            new RunUpdate(RunStatus.AwaitingApproval, T0.AddSeconds(3)) { SetFinished = true, Fingerprint = "fp", PlanSha256 = "sha", Summary = "+1" }));

        var stored = (await Store.GetRunAsync(run.Id))!;
        Assert.Equal(RunStatus.AwaitingApproval, stored.Status);
        Assert.Equal(1, stored.Attempts);
        Assert.Equal("fp", stored.Fingerprint);
        Assert.Equal(T0, stored.StartedAt);
        Assert.Equal(T0.AddSeconds(3), stored.FinishedAt);
        Assert.Empty(await Store.ListUnfinishedRunsAsync());
    }

    [Fact]
    public async Task LockHead_SecondLockWaitsForTheFirst()
    {
        var head = await Store.UpsertHeadAsync(Repo, 7, "h", "b", "main", "alice", T0);
        var first = await Store.LockHeadAsync(head.Id);
        var secondTask = Store.LockHeadAsync(head.Id);
        await Task.Delay(200);
        Assert.False(secondTask.IsCompleted);

        await first.DisposeAsync();
        await using var second = await secondTask.WaitAsync(TimeSpan.FromSeconds(10));
    }
}

[Trait("Category", Categories.Integration)]
public sealed class PostgresStateStoreTests(PostgresFixture postgres) : SqlStateStoreContract, IClassFixture<PostgresFixture>
{
    protected override async Task<SqlStateStore> CreateAsync() => SqlStateStore.ForPostgres(await postgres.CreateDatabaseAsync());

    [Fact]
    public async Task MigrateAsync_ManyProcessesAtOnce_AllSucceed()
    {
        var connection = await postgres.CreateDatabaseAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => SqlStateStore.ForPostgres(connection)).ToList();

        await Task.WhenAll(stores.Select(s => s.MigrateAsync()));

        Assert.True(await stores[0].RecordDeliveryAsync(new Delivery("x", "ping", null, null, null, "{}", DateTimeOffset.UnixEpoch, null)));
        foreach (var s in stores)
        {
            await s.DisposeAsync();
        }
    }
}

public sealed class SqliteStateStoreTests : SqlStateStoreContract, IDisposable
{
    private readonly SqliteStateFile _file = new();

    protected override Task<SqlStateStore> CreateAsync() => Task.FromResult(_file.Open());

    public void Dispose() => _file.Dispose();

    [Fact]
    public async Task Restart_SameFile_StateKept()
    {
        await Store.RecordDeliveryAsync(new Delivery("kept", "ping", null, null, null, "{}", DateTimeOffset.UnixEpoch, null));
        await using var reopened = SqlStateStore.ForSqlite(_file.Path);
        await reopened.MigrateAsync();

        Assert.NotNull(await reopened.GetDeliveryAsync("kept"));
    }
}

[Trait("Category", Categories.Integration)]
public sealed class ProjectLockTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private static readonly RepoRef Repo = new(1, "octo-org", "infra");

    [Fact]
    public async Task LockProject_SameProjectFromTwoWorkers_SecondWaits_OtherProjectDoesNot()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var workerA = SqlStateStore.ForPostgres(connection);
        await using var workerB = SqlStateStore.ForPostgres(connection);
        await workerA.MigrateAsync();

        var held = await workerA.LockProjectAsync(Repo, "envs/prod");
        var waiting = workerB.LockProjectAsync(Repo, "envs/prod");
        await using (await workerB.LockProjectAsync(Repo, "envs/dev").WaitAsync(TimeSpan.FromSeconds(10)))
        {
            await Task.Delay(200);
            Assert.False(waiting.IsCompleted);
        }

        await held.DisposeAsync();
        await using var second = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task LockProject_HolderConnectionDies_LockReleased()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var survivor = SqlStateStore.ForPostgres(connection);
        await survivor.MigrateAsync();
        await using var dying = SqlStateStore.ForPostgres(connection);
        _ = await dying.LockProjectAsync(Repo, "envs/prod");

        // A worker killed mid-run: the server ends its session without an unlock. Only in this test's database:
        // pg_locks is cluster-wide, and tests running in parallel hold advisory locks of their own (migrations).
        await using (var admin = new Npgsql.NpgsqlConnection(connection))
        {
            await admin.OpenAsync();
            await using var kill = new Npgsql.NpgsqlCommand(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid() " +
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database());", admin);
            await kill.ExecuteNonQueryAsync();
        }

        await using var taken = await survivor.LockProjectAsync(Repo, "envs/prod").WaitAsync(TimeSpan.FromSeconds(20));
    }
}
