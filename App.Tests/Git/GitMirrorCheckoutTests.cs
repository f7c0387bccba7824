using System.Text;
using System.Runtime.Versioning;

namespace Ensemble.Tests.Git;

[Trait("Category", "Integration")] // runs the real git CLI
public sealed class GitMirrorCheckoutTests : IDisposable
{
    private readonly GitSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes and symlinks are what this checks
    public async Task CheckoutAsync_Commit_WritesExactlyItsFilesWithModesAndSymlinks()
    {
        var remote = _sandbox.CreateRemote();
        remote.Write("envs/prod/main.tf", "v1\n").Write("removed later.tf", "r\n").Write("scripts/run.sh", "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(remote.Path, "scripts/run.sh"), (UnixFileMode)0b111_101_101);
        File.CreateSymbolicLink(Path.Combine(remote.Path, "envs/prod/modules"), "../../modules");
        remote.Write("modules/vpc/main.tf", "vpc\n");
        var wanted = remote.Write("ünïcode dir/a b.tf", "u\n").Commit("wanted");
        var later = remote.Delete("removed later.tf").Write("envs/prod/main.tf", "v2\n").Write("later.tf", "l\n").Commit("later");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [wanted, later], CancellationToken.None);
        var destination = _sandbox.NewDirectoryPath("ws/plan-1");

        await mirror.CheckoutAsync(Repos.Infra, wanted, destination, CancellationToken.None);

        var files = Directory.EnumerateFileSystemEntries(destination, "*", SearchOption.AllDirectories)
            .Where(f => !Directory.Exists(f) || new FileInfo(f).LinkTarget is not null) // files and symlinks
            .Select(f => Path.GetRelativePath(destination, f))
            .Where(f => !f.StartsWith("envs/prod/modules/", StringComparison.Ordinal)) // the same files, seen through the symlink
            .Order(StringComparer.Ordinal);
        Assert.Equal(["envs/prod/main.tf", "envs/prod/modules", "modules/vpc/main.tf", "removed later.tf", "scripts/run.sh", "ünïcode dir/a b.tf"], files);
        Assert.Equal("v1\n", File.ReadAllText(Path.Combine(destination, "envs/prod/main.tf")));
        Assert.Equal("../../modules", new FileInfo(Path.Combine(destination, "envs/prod/modules")).LinkTarget);
        Assert.True(File.GetUnixFileMode(Path.Combine(destination, "scripts/run.sh")).HasFlag(UnixFileMode.UserExecute));
        Assert.False(File.GetUnixFileMode(Path.Combine(destination, "envs/prod/main.tf")).HasFlag(UnixFileMode.UserExecute));
        Assert.False(Directory.Exists(Path.Combine(destination, ".git")));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task CheckoutAsync_OnlyPaths_WritesThoseFilesAndDirectoriesAndSkipsMissingOnes()
    {
        var remote = _sandbox.CreateRemote();
        remote.Write("envs/prod/main.tf", "prod\n").Write("envs/prod/config/app.yaml", "a: 1\n").Write("envs/dev/main.tf", "dev\n")
            .Write("envs/prod-old/main.tf", "old\n").Write("modules/vpc/main.tf", "vpc\n").Write("modules/vpc/scripts/x.sh", "#!/bin/sh\n")
            .Write("policies/net.json", "{}").Write("policies/other.json", "{}").Write("[weird]*name.json", "w").Write("README.md", "r");
        File.SetUnixFileMode(Path.Combine(remote.Path, "modules/vpc/scripts/x.sh"), (UnixFileMode)0b111_101_101);
        var sha = remote.Commit("monorepo");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [sha], CancellationToken.None);
        var destination = _sandbox.NewDirectoryPath("ws/sparse");

        // "[weird]*name.json" is a literal path, never a pattern; "policies/missing.json" is read but not committed.
        await mirror.CheckoutAsync(Repos.Infra, sha, destination,
            ["envs/prod", "modules/vpc", "modules/gone", "policies/net.json", "policies/missing.json", "[weird]*name.json"], CancellationToken.None);

        var files = Directory.EnumerateFiles(destination, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(destination, f)).Order(StringComparer.Ordinal);
        Assert.Equal(["[weird]*name.json", "envs/prod/config/app.yaml", "envs/prod/main.tf", "modules/vpc/main.tf", "modules/vpc/scripts/x.sh", "policies/net.json"], files);
        Assert.True(File.GetUnixFileMode(Path.Combine(destination, "modules/vpc/scripts/x.sh")).HasFlag(UnixFileMode.UserExecute));
    }

    [Fact]
    public async Task ListFilesAsync_Directory_ListsFilesBelowIt()
    {
        var remote = _sandbox.CreateRemote();
        var sha = remote.Write("shared/a.json", "{}").Write("shared/deep/b.yaml", "b").Write("shared-old/c.json", "{}").Write("x.tf", "x").Commit("c");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [sha], CancellationToken.None);

        Assert.Equal(["shared/a.json", "shared/deep/b.yaml"], await mirror.ListFilesAsync(Repos.Infra, sha, "shared", CancellationToken.None));
        Assert.Equal(4, (await mirror.ListFilesAsync(Repos.Infra, sha, ".", CancellationToken.None)).Count);
    }

    [Fact]
    public async Task CheckoutAsync_ConcurrentCheckoutsOfOneMirror_EachGetsItsCommit()
    {
        var remote = _sandbox.CreateRemote();
        var shas = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            for (var j = 0; j < 20; j++)
            {
                remote.Write($"d{j}/main.tf", $"commit {i}\n");
            }

            shas.Add(remote.Commit($"c{i}"));
        }

        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], shas, CancellationToken.None);

        await Task.WhenAll(shas.Select((sha, i) => mirror.CheckoutAsync(Repos.Infra, sha, _sandbox.NewDirectoryPath($"ws/{i}"), CancellationToken.None)));

        for (var i = 0; i < shas.Count; i++)
        {
            var destination = _sandbox.NewDirectoryPath($"ws/{i}");
            Assert.All(Enumerable.Range(0, 20), j => Assert.Equal($"commit {i}\n", File.ReadAllText(Path.Combine(destination, $"d{j}/main.tf"))));
        }
    }

    [Fact]
    public async Task CheckoutAsync_NonEmptyDestination_RefusedWithoutTouchingIt()
    {
        var remote = _sandbox.CreateRemote();
        var head = remote.Write("a.tf", "a").Commit("a");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);
        var destination = _sandbox.NewDirectoryPath("ws");
        Directory.CreateDirectory(destination);
        File.WriteAllText(Path.Combine(destination, "leftover.tf"), "old");

        await Assert.ThrowsAsync<ArgumentException>(() => mirror.CheckoutAsync(Repos.Infra, head, destination, CancellationToken.None));

        Assert.Equal(["leftover.tf"], Directory.GetFiles(destination).Select(Path.GetFileName));
    }

    [Fact]
    public async Task CheckoutAsync_UnknownCommit_ThrowsAndLeavesDestinationEmpty()
    {
        var remote = _sandbox.CreateRemote();
        var head = remote.Write("a.tf", "a").Commit("a");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);
        var destination = _sandbox.NewDirectoryPath("ws");

        await Assert.ThrowsAsync<Ensemble.Jobs.Git.GitException>(() =>
            mirror.CheckoutAsync(Repos.Infra, "0123456789abcdef0123456789abcdef01234567", destination, CancellationToken.None));

        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));
    }

    [Fact]
    public async Task CheckoutAsync_Submodule_AnEmptyDirectoryAsGitLeavesIt()
    {
        var remote = _sandbox.CreateRemote();
        remote.Write("envs/prod/main.tf", "prod\n").Commit("first");
        remote.Git("update-index", "--add", "--cacheinfo", $"160000,{remote.Head},vendor/tools");
        remote.Git("-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", "a submodule");
        var sha = remote.Head;
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [sha], CancellationToken.None);
        var destination = _sandbox.NewDirectoryPath("ws");

        await mirror.CheckoutAsync(Repos.Infra, sha, destination, CancellationToken.None);

        Assert.True(Directory.Exists(Path.Combine(destination, "vendor/tools")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(destination, "vendor/tools")));
        Assert.Equal("prod\n", File.ReadAllText(Path.Combine(destination, "envs/prod/main.tf")));
    }

    [Theory]
    [InlineData(".git")]
    [InlineData(".GIT")]
    [InlineData("..")]
    public async Task CheckoutAsync_TreeWithAPathGitRefuses_RefusedAndNothingWritten(string hostile)
    {
        // A crafted commit (git's own porcelain would never write it): a tree entry that could write over the
        // workspace's parent or plant a repository in it.
        var remote = _sandbox.CreateRemote();
        var ok = remote.Write("a.tf", "a").Commit("a");
        var blob = TestGit.RunBytes(remote.Path, "x"u8.ToArray(), "hash-object", "-w", "--stdin");
        var tree = TestGit.RunBytes(remote.Path, Encoding.UTF8.GetBytes(
            $"100644 blob {Encoding.ASCII.GetString(blob).Trim()}\t{hostile}\n100644 blob {Encoding.ASCII.GetString(blob).Trim()}\tb.tf\n"), "mktree");
        var commit = remote.Git("-c", "user.name=Test", "-c", "user.email=test@example.com", "commit-tree", Encoding.ASCII.GetString(tree).Trim(), "-p", ok, "-m", "hostile").Trim();
        remote.Git("update-ref", "refs/heads/main", commit);
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [commit], CancellationToken.None);
        var destination = _sandbox.NewDirectoryPath("ws");

        var error = await Assert.ThrowsAsync<Ensemble.Jobs.Git.GitException>(() =>
            mirror.CheckoutAsync(Repos.Infra, commit, destination, CancellationToken.None));

        Assert.Contains("Refusing to check out", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(destination));

        // Again, with the commit's trees now cached: checked again, refused again.
        var again = _sandbox.NewDirectoryPath("ws-again");
        error = await Assert.ThrowsAsync<Ensemble.Jobs.Git.GitException>(() => mirror.CheckoutAsync(Repos.Infra, commit, again, CancellationToken.None));
        Assert.Contains("Refusing to check out", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(again));
    }

    [Fact]
    public async Task TreeCheckout_WithACache_AsksGitOnlyForTreesItHasNotSeenAndForFiles()
    {
        var remote = _sandbox.CreateRemote();
        var first = remote.Write("envs/a/main.tf", "a\n").Write("envs/b/main.tf", "b\n").Write("README.md", "r").Commit("two projects");
        var second = remote.Write("envs/b/main.tf", "b2\n").Commit("b changed");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [first, second], CancellationToken.None);
        var path = mirror.MirrorPath(Repos.Infra);
        var cache = new Ensemble.Jobs.Git.TreeCache();

        // Cold: the root tree, envs, envs/a and its file. Then the sibling: only envs/b and its file (root and envs are
        // the same objects). Then a's project in the next commit: a new root and envs, a's tree is unchanged.
        Assert.Equal(4, await CheckoutCountingAsync(path, first, "envs/a", cache));
        Assert.Equal(2, await CheckoutCountingAsync(path, first, "envs/b", cache));
        Assert.Equal(3, await CheckoutCountingAsync(path, second, "envs/a", cache));
        Assert.Equal(4, await CheckoutCountingAsync(path, second, "envs/b", new Ensemble.Jobs.Git.TreeCache()));

        Assert.Equal("a\n", File.ReadAllText(Path.Combine(_sandbox.NewDirectoryPath($"counted/{second}/envs/a"), "main.tf")));
        Assert.Equal("b\n", File.ReadAllText(Path.Combine(_sandbox.NewDirectoryPath($"counted/{first}/envs/b"), "main.tf")));
        Assert.Equal("b2\n", File.ReadAllText(Path.Combine(_sandbox.NewDirectoryPath($"counted/{second}/envs/b"), "main.tf")));
        Assert.Equal(["main.tf"], Directory.EnumerateFileSystemEntries(_sandbox.NewDirectoryPath($"counted/{second}/envs/a")).Select(Path.GetFileName));
        Assert.False(File.Exists(_sandbox.NewDirectoryPath($"counted/{second}/README.md")));
    }

    [Fact]
    public async Task CheckoutAsync_ByANameThatMoves_SeesWhereItPointsNowDespiteTheCache()
    {
        var remote = _sandbox.CreateRemote();
        var first = remote.Write("envs/b/main.tf", "b\n").Commit("b");
        var second = remote.Write("envs/b/main.tf", "b2\n").Commit("b changed");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [first, second], CancellationToken.None);
        var path = mirror.MirrorPath(Repos.Infra);
        TestGit.Run(path, "update-ref", "refs/tests/moving", first);
        await mirror.CheckoutAsync(Repos.Infra, "refs/tests/moving", _sandbox.NewDirectoryPath("ws/1"), ["envs/b"], CancellationToken.None);

        TestGit.Run(path, "update-ref", "refs/tests/moving", second);
        await mirror.CheckoutAsync(Repos.Infra, "refs/tests/moving", _sandbox.NewDirectoryPath("ws/2"), ["envs/b"], CancellationToken.None);

        Assert.Equal("b\n", File.ReadAllText(_sandbox.NewDirectoryPath("ws/1/envs/b/main.tf")));
        Assert.Equal("b2\n", File.ReadAllText(_sandbox.NewDirectoryPath("ws/2/envs/b/main.tf")));
    }

    /// <summary>Checks <paramref name="project"/> of <paramref name="commit"/> out under counted/&lt;commit&gt;; returns how many objects git was asked for.</summary>
    private async Task<int> CheckoutCountingAsync(string mirror, string commit, string project, Ensemble.Jobs.Git.TreeCache cache)
    {
        var destination = _sandbox.NewDirectoryPath($"counted/{commit}");
        Directory.CreateDirectory(destination);
        var checkout = new Ensemble.Jobs.Git.TreeCheckout(destination, [project], cache, mirror);
        checkout.Start(commit);
        using var catFile = Ensemble.Jobs.Git.CatFileProcess.Start(mirror);
        await Task.WhenAll(Task.Run(() => checkout.ReadAnswers(catFile.Output)), checkout.WriteRequestsAsync(catFile.Input, CancellationToken.None));
        Assert.True(checkout.Complete);
        return checkout.Requested;
    }

    /// <summary>The git cat-file processes (<c>pid: command line</c>) of this mirror.</summary>
    private static List<string> CatFilesOf(string mirror) =>
        [.. Ensemble.Tests.Terraform.ProcessAssert.Mentioning(mirror).Where(p => p.Contains("cat-file", StringComparison.Ordinal))];

    [Fact]
    public async Task CheckoutAsync_SecondCheckout_ReusesTheFirstOnesGitProcess()
    {
        var remote = _sandbox.CreateRemote();
        var first = remote.Write("envs/a/main.tf", "a\n").Commit("a");
        var second = remote.Write("envs/a/main.tf", "a2\n").Commit("a2");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [first, second], CancellationToken.None);

        await mirror.CheckoutAsync(Repos.Infra, first, _sandbox.NewDirectoryPath("ws/1"), CancellationToken.None);
        var afterFirst = CatFilesOf(mirror.MirrorPath(Repos.Infra));
        await mirror.CheckoutAsync(Repos.Infra, second, _sandbox.NewDirectoryPath("ws/2"), CancellationToken.None);

        Assert.Single(afterFirst);
        Assert.Equal(afterFirst, CatFilesOf(mirror.MirrorPath(Repos.Infra)));
        Assert.Equal("a2\n", File.ReadAllText(_sandbox.NewDirectoryPath("ws/2/envs/a/main.tf")));
    }

    [Fact]
    public async Task CheckoutAsync_CommitFetchedAfterThePooledProcessStarted_IsCheckedOutByIt()
    {
        var remote = _sandbox.CreateRemote();
        var early = remote.Write("envs/a/main.tf", "early\n").Commit("early");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [early], CancellationToken.None);
        await mirror.CheckoutAsync(Repos.Infra, early, _sandbox.NewDirectoryPath("ws/early"), CancellationToken.None);
        var pooled = CatFilesOf(mirror.MirrorPath(Repos.Infra));

        // New objects arrive after cat-file started, in a new pack (over fetch.unpackLimit's 100 objects): it must find them.
        remote.Write("envs/a/main.tf", "late\n").Write("envs/b/main.tf", "b\n");
        for (var i = 0; i < 150; i++)
        {
            remote.Write($"envs/c/f{i}.tf", $"{i}\n");
        }

        var late = remote.Commit("late");
        int Packs() => Directory.EnumerateFiles(Path.Combine(mirror.MirrorPath(Repos.Infra), "objects", "pack"), "*.pack").Count();
        var packsBefore = Packs();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [late], CancellationToken.None);
        await mirror.CheckoutAsync(Repos.Infra, late, _sandbox.NewDirectoryPath("ws/late"), CancellationToken.None);

        Assert.Equal(pooled, CatFilesOf(mirror.MirrorPath(Repos.Infra)));
        Assert.Equal("late\n", File.ReadAllText(_sandbox.NewDirectoryPath("ws/late/envs/a/main.tf")));
        Assert.Equal("b\n", File.ReadAllText(_sandbox.NewDirectoryPath("ws/late/envs/b/main.tf")));
        Assert.Equal("149\n", File.ReadAllText(_sandbox.NewDirectoryPath("ws/late/envs/c/f149.tf")));
        Assert.Equal(packsBefore + 1, Packs());
    }

    [Fact]
    public async Task CheckoutAsync_AfterACancelledAndARefusedCheckout_NextCheckoutIsExact()
    {
        var remote = _sandbox.CreateRemote();
        for (var i = 0; i < 300; i++)
        {
            remote.Write($"envs/p{i:000}/main.tf", new string('x', 2000) + i);
        }

        var big = remote.Commit("big");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [big], CancellationToken.None);
        using (var cancelled = new CancellationTokenSource())
        {
            var checkout = mirror.CheckoutAsync(Repos.Infra, big, _sandbox.NewDirectoryPath("ws/cancelled"), cancelled.Token);
            await cancelled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => checkout);
        }

        await Assert.ThrowsAsync<Ensemble.Jobs.Git.GitException>(() =>
            mirror.CheckoutAsync(Repos.Infra, new string('1', 40), _sandbox.NewDirectoryPath("ws/unknown"), CancellationToken.None));
        await mirror.CheckoutAsync(Repos.Infra, big, _sandbox.NewDirectoryPath("ws/after"), CancellationToken.None);

        var files = Directory.EnumerateFiles(_sandbox.NewDirectoryPath("ws/after"), "*", SearchOption.AllDirectories).ToList();
        Assert.Equal(300, files.Count);
        Assert.Equal(new string('x', 2000) + 299, File.ReadAllText(_sandbox.NewDirectoryPath("ws/after/envs/p299/main.tf")));
        Assert.True(CatFilesOf(mirror.MirrorPath(Repos.Infra)).Count <= 1, "a process in doubt is ended, not kept");
    }
}
