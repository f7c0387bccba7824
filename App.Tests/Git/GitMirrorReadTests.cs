using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Git;

namespace Ensemble.Tests.Git;

[Trait("Category", "Integration")] // runs the real git CLI
public sealed class GitMirrorReadTests : IDisposable
{
    private readonly GitSandbox _sandbox = new();
    private readonly TestRepository _remote;
    private readonly GitMirror _mirror;

    public GitMirrorReadTests()
    {
        _remote = _sandbox.CreateRemote();
        _mirror = _sandbox.CreateMirror();
    }

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public async Task DiffAsync_BaseMovedOnAfterBranching_ReportsOnlyTheHeadsChanges()
    {
        _remote
            .Write("envs/prod/main.tf", "prod\n")
            .Write("envs/old name/main.tf", "a long enough body so that rename detection sees the same file\n")
            .Write("modules/vpc/main.tf", "vpc\n")
            .Write("gone.tf", "bye\n")
            .Commit("base");
        _remote.Git("checkout", "--quiet", "-b", "feature");
        var head = _remote
            .Write("envs/prod/main.tf", "prod changed\n")
            .Write("envs/nouveau été/main.tf", "new\n")
            .Move("envs/old name/main.tf", "envs/new name/main.tf")
            .Delete("gone.tf")
            .Commit("feature work");
        _remote.Git("checkout", "--quiet", "main");
        var baseSha = _remote.Write("modules/vpc/main.tf", "vpc moved on\n").Write("base-only.tf", "x\n").Commit("base moves on");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main", "refs/heads/feature"], [baseSha, head], CancellationToken.None);

        var changes = await _mirror.DiffAsync(Repos.Infra, baseSha, head, CancellationToken.None);

        var expected = new[]
        {
            new ChangedFile("envs/new name/main.tf", ChangeKind.Renamed, "envs/old name/main.tf"),
            new ChangedFile("envs/nouveau été/main.tf", ChangeKind.Added),
            new ChangedFile("envs/prod/main.tf", ChangeKind.Modified),
            new ChangedFile("gone.tf", ChangeKind.Deleted),
        };
        Assert.Equal(expected.OrderBy(c => c.Path, StringComparer.Ordinal), changes.OrderBy(c => c.Path, StringComparer.Ordinal));
    }

    [Fact]
    public async Task DiffAsync_FileBecomesSymlink_ReportsTypeChanged()
    {
        var baseSha = _remote.Write("modules/a.tf", "a").Write("link.tf", "plain file").Commit("base");
        File.Delete(Path.Combine(_remote.Path, "link.tf"));
        File.CreateSymbolicLink(Path.Combine(_remote.Path, "link.tf"), "modules/a.tf");
        var head = _remote.Commit("now a symlink");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);

        var changes = await _mirror.DiffAsync(Repos.Infra, baseSha, head, CancellationToken.None);

        Assert.Equal([new ChangedFile("link.tf", ChangeKind.TypeChanged)], changes);
    }

    [Fact]
    public async Task DiffAsync_PathWithNewline_ParsedAsOnePath()
    {
        var baseSha = _remote.Write("a.tf", "a").Commit("base");
        var head = _remote.Write("odd\nname.tf", "x").Commit("odd");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);

        var changes = await _mirror.DiffAsync(Repos.Infra, baseSha, head, CancellationToken.None);

        Assert.Equal([new ChangedFile("odd\nname.tf", ChangeKind.Added)], changes);
    }

    [Fact]
    public async Task DiffAsync_MoreThanThreeThousandFiles_ReportsEveryOne()
    {
        var baseSha = _remote.Write("README.md", "x").Commit("base");
        // Built with plumbing (one blob under 3,500 names) rather than 3,500 files: same history, a fraction of the time.
        var blob = Git("# stack\n", "hash-object", "-w", "--stdin");
        var stacks = Git(string.Concat(Enumerable.Range(0, 3_500).Select(i => $"100644 blob {blob}\tf{i}.tf\n")), "mktree");
        var root = Git(_remote.Git("ls-tree", baseSha) + $"040000 tree {stacks}\tstacks\n", "mktree");
        var head = Git(null, "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit-tree", root, "-p", baseSha, "-m", "huge");
        _remote.Git("update-ref", "refs/heads/main", head);
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);

        var changes = await _mirror.DiffAsync(Repos.Infra, baseSha, head, CancellationToken.None);

        Assert.Equal(3_500, changes.Count);
        Assert.All(changes, c => Assert.Equal(ChangeKind.Added, c.Kind));
    }

    private string Git(string? input, params string[] arguments) =>
        Encoding.UTF8.GetString(TestGit.RunBytes(_remote.Path, input is null ? null : Encoding.UTF8.GetBytes(input), arguments)).Trim();

    [Fact]
    public async Task MergeBaseAsync_DivergedBranches_ReturnsForkPoint()
    {
        var fork = _remote.Write("a.tf", "a").Commit("fork");
        _remote.Git("checkout", "--quiet", "-b", "feature");
        var head = _remote.Write("b.tf", "b").Commit("feature");
        _remote.Git("checkout", "--quiet", "main");
        var main = _remote.Write("c.tf", "c").Commit("main");
        _remote.Git("checkout", "--quiet", "--orphan", "unrelated");
        var unrelated = _remote.Write("d.tf", "d").Commit("unrelated");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main", "refs/heads/feature", "refs/heads/unrelated"], [], CancellationToken.None);

        Assert.Equal(fork, await _mirror.MergeBaseAsync(Repos.Infra, main, head, CancellationToken.None));
        Assert.Null(await _mirror.MergeBaseAsync(Repos.Infra, main, unrelated, CancellationToken.None));
    }

    [Fact]
    public async Task ListTreeAsync_Commit_ListsEveryFileWithItsHashObjectId()
    {
        var head = _remote
            .Write("envs/prod/main.tf", "prod\n")
            .Write("with space/ünïcode.tf", "u\n")
            .Write("README.md", "# infra\n")
            .Commit("tree");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);

        var files = await _mirror.ListTreeAsync(Repos.Infra, head, CancellationToken.None);

        var expected = new[] { "README.md", "envs/prod/main.tf", "with space/ünïcode.tf" }
            .Select(p => new TreeFile(p, TestGit.Run(_remote.Path, "hash-object", "--", p).Trim()));
        Assert.Equal(expected, files.OrderBy(f => f.Path, StringComparer.Ordinal));
    }

    [Fact]
    public async Task ReadBlobsAsync_ManyBlobs_ReturnsExactBytes()
    {
        var binary = Enumerable.Range(0, 256).Select(i => (byte)i).Concat("\n\n0 blob 12\n"u8.ToArray()).ToArray();
        // Larger than a pipe buffer, so reading must run while git writes.
        var large = Enumerable.Range(0, 3_000_000).Select(i => (byte)(i * 7 % 251)).ToArray();
        _remote.WriteBytes("bin.dat", binary).WriteBytes("empty.tf", []).WriteBytes("large.bin", large);
        for (var i = 0; i < 120; i++)
        {
            _remote.Write($"m/{i}.tf", $"value = {i}\nmissing\n");
        }

        var head = _remote.Commit("blobs");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);
        var tree = await _mirror.ListTreeAsync(Repos.Infra, head, CancellationToken.None);

        var blobs = await _mirror.ReadBlobsAsync(Repos.Infra, tree.Select(f => f.BlobId).ToList(), CancellationToken.None);

        foreach (var file in tree)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(_remote.Path, file.Path)), blobs[file.BlobId]);
        }

        Assert.Equal(tree.Count, blobs.Count);
        Assert.Equal(binary, blobs[tree.Single(f => f.Path == "bin.dat").BlobId]);
        Assert.Equal(large, blobs[tree.Single(f => f.Path == "large.bin").BlobId]);
    }

    [Fact]
    public async Task ReadBlobsAsync_UnknownBlob_ThrowsNamingIt()
    {
        var head = _remote.Write("a.tf", "a").Commit("a");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);
        const string Unknown = "0123456789abcdef0123456789abcdef01234567";

        var error = await Assert.ThrowsAsync<GitException>(() => _mirror.ReadBlobsAsync(Repos.Infra, [Unknown], CancellationToken.None));

        Assert.Contains(Unknown, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TreeHashAsync_Directory_ChangesOnlyWhenSomethingUnderItChanges()
    {
        var first = _remote.Write("envs/prod/main.tf", "prod\n").Write("modules/vpc/main.tf", "vpc\n").Commit("first");
        var second = _remote.Write("envs/prod/main.tf", "prod 2\n").Commit("prod changes");
        var third = _remote.Write("modules/vpc/variables.tf", "variable \"x\" {}\n").Commit("vpc changes");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [third], CancellationToken.None);

        async Task<string?> Hash(string sha, string path) => await _mirror.TreeHashAsync(Repos.Infra, sha, path, CancellationToken.None);

        Assert.Equal(await Hash(first, "modules/vpc"), await Hash(second, "modules/vpc"));
        Assert.NotEqual(await Hash(second, "modules/vpc"), await Hash(third, "modules/vpc"));
        Assert.NotEqual(await Hash(first, "envs/prod"), await Hash(second, "envs/prod"));
        Assert.Equal(await Hash(second, "envs/prod/"), await Hash(third, "./envs/prod"));
        Assert.Equal(TestGit.Run(_remote.Path, "rev-parse", $"{third}:modules/vpc").Trim(), await Hash(third, "modules/vpc"));
        Assert.Equal(TestGit.Run(_remote.Path, "rev-parse", $"{third}^{{tree}}").Trim(), await Hash(third, "."));
        Assert.Null(await Hash(third, "envs/staging"));
    }

    [Fact]
    public async Task TreeHashesAsync_ManyPaths_AnswersEachWithOneCall()
    {
        var head = _remote.Write("a/main.tf", "a").Write("b c/main.tf", "b").Commit("two dirs");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);

        var hashes = await _mirror.TreeHashesAsync(Repos.Infra, head, ["a", "b c", "nope", ""], CancellationToken.None);

        Assert.Equal(TestGit.Run(_remote.Path, "rev-parse", $"{head}:b c").Trim(), hashes["b c"]);
        Assert.Equal(TestGit.Run(_remote.Path, "rev-parse", $"{head}:a").Trim(), hashes["a"]);
        Assert.Null(hashes["nope"]);
        Assert.Equal(TestGit.Run(_remote.Path, "rev-parse", $"{head}^{{tree}}").Trim(), hashes[""]);
    }

    [Fact]
    public async Task TreeHashAsync_CommitNotInMirror_Throws()
    {
        var head = _remote.Write("a.tf", "a").Commit("a");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);

        var error = await Assert.ThrowsAsync<GitException>(() =>
            _mirror.TreeHashAsync(Repos.Infra, "0123456789abcdef0123456789abcdef01234567", "a", CancellationToken.None));

        Assert.Contains("0123456789abcdef0123456789abcdef01234567", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("/abs")]
    [InlineData("a\nb")]
    public async Task TreeHashAsync_PathOutsideRepository_Refused(string path)
    {
        var head = _remote.Write("a.tf", "a").Commit("a");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);

        await Assert.ThrowsAsync<ArgumentException>(() => _mirror.TreeHashAsync(Repos.Infra, head, path, CancellationToken.None));
    }

    [Fact]
    public async Task DiffWorkingTreeAsync_UncommittedAndUntrackedChanges_ReportedWithoutIgnoredFilesOrTouchingTheIndex()
    {
        var local = TestRepository.Init(_sandbox.NewDirectoryPath("local"));
        var baseSha = local
            .Write(".gitignore", "*.tfstate\n")
            .Write("envs/prod/main.tf", "prod\n")
            .Write("envs/dev/main.tf", "a long enough body so that rename detection sees the same file\n")
            .Write("old.tf", "old\n")
            .Commit("base");
        local.Write("committed.tf", "c\n").Commit("committed after base");
        local
            .Write("envs/prod/main.tf", "prod edited\n")
            .Write("untracked dir/new.tf", "n\n")
            .Write("envs/prod/terraform.tfstate", "{}")
            .Move("envs/dev/main.tf", "envs/development/main.tf")
            .Delete("old.tf");
        var statusBefore = local.Git("status", "--porcelain");

        var changes = await _mirror.DiffWorkingTreeAsync(Path.Combine(local.Path, "envs"), baseSha, CancellationToken.None);

        var expected = new[]
        {
            new ChangedFile("committed.tf", ChangeKind.Added),
            new ChangedFile("envs/development/main.tf", ChangeKind.Renamed, "envs/dev/main.tf"),
            new ChangedFile("envs/prod/main.tf", ChangeKind.Modified),
            new ChangedFile("old.tf", ChangeKind.Deleted),
            new ChangedFile("untracked dir/new.tf", ChangeKind.Added),
        };
        Assert.Equal(expected, changes.OrderBy(c => c.Path, StringComparer.Ordinal));
        Assert.Equal(statusBefore, local.Git("status", "--porcelain"));
    }

    [Fact]
    public async Task ReadBlobsAsync_Cancelled_ThrowsOperationCanceled()
    {
        var head = _remote.Write("a.tf", "a").Commit("a");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            _mirror.ReadBlobsAsync(Repos.Infra, [TestGit.Run(_remote.Path, "rev-parse", "HEAD:a.tf").Trim()], cancelled.Token));
    }
}
