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
        Assert.Empty(Directory.GetFiles(Path.Combine(_sandbox.WorkDirectory, "tmp"))); // private index removed
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
}
