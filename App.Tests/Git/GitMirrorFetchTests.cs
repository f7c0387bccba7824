using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Git;

namespace Ensemble.Tests.Git;

[Trait("Category", "Integration")] // runs the real git CLI
public sealed class GitMirrorFetchTests : IDisposable
{
    private readonly GitSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public async Task FetchAsync_NewRepository_CreatesBareMirrorWithFetchedRefs()
    {
        var remote = _sandbox.CreateRemote();
        var main = remote.Write("main.tf", "resource \"x\" \"y\" {}\n").Commit("first");
        remote.Git("update-ref", "refs/pull/12/head", main);
        var mirror = _sandbox.CreateMirror();

        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main", "refs/pull/12/head"], [main], CancellationToken.None);

        var path = Path.Combine(_sandbox.WorkDirectory, "mirrors", "acme", "infra.git");
        Assert.Equal(path, mirror.MirrorPath(Repos.Infra));
        Assert.Equal("true", TestGit.Run(path, "config", "core.bare").Trim());
        Assert.Equal(main, TestGit.Run(path, "rev-parse", "refs/pull/12/head").Trim());
        Assert.Equal(main, TestGit.Run(path, "rev-parse", "refs/heads/main").Trim());
    }

    [Fact]
    public async Task FetchAsync_SecondFetch_TransfersOnlyNewObjects()
    {
        var remote = _sandbox.CreateRemote();
        for (var i = 0; i < 40; i++)
        {
            remote.Write($"modules/m{i}/main.tf", $"# module {i}\n");
        }

        remote.Commit("many files");
        var mirror = _sandbox.CreateMirror();
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [], CancellationToken.None);
        var objectsDirectory = Path.Combine(mirror.MirrorPath(Repos.Infra), "objects");
        var before = ObjectFiles(objectsDirectory);

        var second = remote.Write("modules/m7/main.tf", "# changed\n").Commit("one change");
        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [second], CancellationToken.None);

        var after = ObjectFiles(objectsDirectory);
        Assert.Superset(before, after); // nothing re-created: the first fetch's pack is still there
        var added = after.Except(before).ToList();
        var transferred = added.Sum(f => f.EndsWith(".idx", StringComparison.Ordinal)
            ? CountPackObjects(Path.Combine(objectsDirectory, f))
            : f.EndsWith(".pack", StringComparison.Ordinal) || f.EndsWith(".rev", StringComparison.Ordinal) ? 0 : 1);
        // New commit, root tree, modules tree, modules/m7 tree and the changed blob: 5 of 125 objects.
        Assert.Equal(5, transferred);
    }

    [Fact]
    public async Task FetchAsync_ConcurrentCallsOnOneMirror_BothSucceed()
    {
        var remote = _sandbox.CreateRemote();
        var main = remote.Write("a.tf", "a").Commit("a");
        remote.Git("checkout", "--quiet", "-b", "feature");
        var feature = remote.Write("b.tf", "b").Commit("b");
        remote.Git("update-ref", "refs/pull/1/head", feature);
        var mirror = _sandbox.CreateMirror();
        var otherInstance = _sandbox.CreateMirror();

        await Task.WhenAll(
            mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [main], CancellationToken.None),
            otherInstance.FetchAsync(Repos.Infra, null, ["refs/pull/1/head"], [feature], CancellationToken.None),
            mirror.FetchAsync(Repos.Infra, null, ["refs/heads/feature"], [feature], CancellationToken.None));

        var path = mirror.MirrorPath(Repos.Infra);
        Assert.Equal(main, TestGit.Run(path, "rev-parse", "refs/heads/main").Trim());
        Assert.Equal(feature, TestGit.Run(path, "rev-parse", "refs/pull/1/head").Trim());
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(path)!, "*.new-*"));
    }

    [Fact]
    public async Task FetchAsync_LockFileHeldElsewhere_WaitsUntilReleased()
    {
        var remote = _sandbox.CreateRemote();
        var main = remote.Write("a.tf", "a").Commit("a");
        var mirror = _sandbox.CreateMirror();
        var lockPath = mirror.MirrorPath(Repos.Infra) + ".lock";
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        var held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

        var fetch = mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [main], CancellationToken.None);
        await Task.Delay(400);
        Assert.False(fetch.IsCompleted);
        Assert.False(Directory.Exists(mirror.MirrorPath(Repos.Infra)));

        await held.DisposeAsync();
        await fetch.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(File.Exists(Path.Combine(mirror.MirrorPath(Repos.Infra), "HEAD")));
    }

    [Fact]
    public async Task FetchAsync_ShaOnNoFetchedRef_FetchesItById()
    {
        var remote = _sandbox.CreateRemote();
        var main = remote.Write("a.tf", "a").Commit("a");
        remote.Git("checkout", "--quiet", "-b", "side");
        var side = remote.Write("side.tf", "s").Commit("side");
        var mirror = _sandbox.CreateMirror();

        await mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [main, side], CancellationToken.None);

        Assert.Equal("commit", TestGit.Run(mirror.MirrorPath(Repos.Infra), "cat-file", "-t", side).Trim());
    }

    [Fact]
    public async Task FetchAsync_ShaNotInRemote_ThrowsNamingTheSha()
    {
        var remote = _sandbox.CreateRemote();
        remote.Write("a.tf", "a").Commit("a");
        var mirror = _sandbox.CreateMirror();
        const string Unknown = "0123456789abcdef0123456789abcdef01234567";

        var error = await Assert.ThrowsAsync<GitException>(() =>
            mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [Unknown], CancellationToken.None));

        Assert.Contains(Unknown, error.Message, StringComparison.Ordinal);
        Assert.Contains("acme/infra", error.Message, StringComparison.Ordinal);
        Assert.Contains("not our ref", error.InnerException?.Message, StringComparison.Ordinal); // git's own reason is kept
    }

    [Fact]
    public async Task FetchAsync_RefNotInRemote_ThrowsGitError()
    {
        _sandbox.CreateRemote().Write("a.tf", "a").Commit("a");
        var mirror = _sandbox.CreateMirror();

        var error = await Assert.ThrowsAsync<GitException>(() =>
            mirror.FetchAsync(Repos.Infra, null, ["refs/pull/99/head"], [], CancellationToken.None));

        Assert.Contains("refs/pull/99/head", error.Message, StringComparison.Ordinal);
        Assert.Equal(128, error.ExitCode);
    }

    [Theory]
    [InlineData("..", "infra")]
    [InlineData("acme", "..")]
    [InlineData("acme/../x", "infra")]
    [InlineData("acme", "in/fra")]
    [InlineData("acme", "in fra")]
    [InlineData("acme", "")]
    [InlineData("acme", "-upload-pack=evil")]
    public async Task FetchAsync_UnsafeOwnerOrName_RefusedBeforeAnyGitCall(string owner, string name)
    {
        var mirror = _sandbox.CreateMirror();
        var repo = new RepoRef(1, owner, name);

        await Assert.ThrowsAsync<ArgumentException>(() => mirror.FetchAsync(repo, null, ["refs/heads/main"], [], CancellationToken.None));
        Assert.False(Directory.Exists(_sandbox.WorkDirectory));
    }

    [Theory]
    [InlineData("main")]
    [InlineData("--upload-pack=touch /tmp/x")]
    [InlineData("refs/heads/a:refs/heads/b")]
    [InlineData("refs/heads/../config")]
    public async Task FetchAsync_InvalidRef_Refused(string reference)
    {
        var mirror = _sandbox.CreateMirror();

        await Assert.ThrowsAsync<ArgumentException>(() => mirror.FetchAsync(Repos.Infra, null, [reference], [], CancellationToken.None));
    }

    [Fact]
    public void MirrorPath_MixedCaseNames_OneMirrorPerRepository()
    {
        var mirror = _sandbox.CreateMirror();

        Assert.Equal(mirror.MirrorPath(new RepoRef(1, "Acme", "Infra")), mirror.MirrorPath(Repos.Infra));
        Assert.Equal(new Uri(Path.Combine(_sandbox.RemotesRoot, "Acme", "Infra.git")).AbsoluteUri, mirror.CloneUrl(new RepoRef(1, "Acme", "Infra")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("github.com")]
    [InlineData("ftp://example.com/")]
    [InlineData("https://user:secret@github.com/")]
    public void Constructor_BadGitUrl_Throws(string gitUrl)
    {
        var error = Assert.Throws<ArgumentException>(() => new GitMirror(new GitMirrorOptions(_sandbox.WorkDirectory, gitUrl), Microsoft.Extensions.Logging.Abstractions.NullLogger<GitMirror>.Instance));

        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DiffAsync_NoMirrorYet_ThrowsClearError()
    {
        var mirror = _sandbox.CreateMirror();

        var error = await Assert.ThrowsAsync<GitException>(() => mirror.DiffAsync(Repos.Infra, "main", "feature", CancellationToken.None));

        Assert.Contains("no mirror of acme/infra", error.Message, StringComparison.Ordinal);
    }

    private static HashSet<string> ObjectFiles(string objectsDirectory) =>
        Directory.EnumerateFiles(objectsDirectory, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(objectsDirectory, f))
            .Where(f => !f.StartsWith("info", StringComparison.Ordinal))
            .ToHashSet();

    private static int CountPackObjects(string indexPath) =>
        Encoding.UTF8.GetString(TestGit.RunBytes(Path.GetDirectoryName(indexPath)!, File.ReadAllBytes(indexPath), "show-index"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
}
