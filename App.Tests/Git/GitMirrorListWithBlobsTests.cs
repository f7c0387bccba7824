using System.Text;
using Ensemble.Jobs.Git;

namespace Ensemble.Tests.Git;

[Trait("Category", "Integration")] // runs the real git CLI
public sealed class GitMirrorListWithBlobsTests : IDisposable
{
    private readonly GitSandbox _sandbox = new();
    private readonly TestRepository _remote;
    private readonly GitMirror _mirror;

    public GitMirrorListWithBlobsTests()
    {
        _remote = _sandbox.CreateRemote();
        _mirror = _sandbox.CreateMirror();
    }

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public async Task ListTreeWithBlobsAsync_ManyFiles_ListsLikeListTreeAndReadsOnlyTheWantedBlobs()
    {
        for (var i = 0; i < 3000; i++)
        {
            _remote.Write($"d{i % 40}/f{i}.{(i % 3 == 0 ? "tf" : "md")}", $"content {i % 500}\n");
        }
        var head = _remote.Commit("many");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);

        var (files, contents) = await _mirror.ListTreeWithBlobsAsync(Repos.Infra, head, f => f.Path.EndsWith(".tf", StringComparison.Ordinal), CancellationToken.None);

        Assert.Equal(await _mirror.ListTreeAsync(Repos.Infra, head, CancellationToken.None), files);
        var wanted = files.Where(f => f.Path.EndsWith(".tf", StringComparison.Ordinal)).ToList();
        Assert.Equal(wanted.Select(f => f.BlobId).Distinct().Order(), contents.Keys.Order());
        var sample = wanted.First(f => f.Path == "d3/f3.tf");
        Assert.Equal("content 3\n", Encoding.UTF8.GetString(contents[sample.BlobId]));
    }

    [Fact]
    public async Task ListTreeWithBlobsAsync_PathFilterAndCallback_ReturnsOnlyKeptFilesAndHandsOverEachWantedBlobOnce()
    {
        for (var i = 0; i < 2000; i++)
        {
            _remote.Write($"d{i % 40}/f{i}.{(i % 4 == 0 ? "tf" : "md")}", $"content {i % 300}\n");
        }
        var head = _remote.Commit("many");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);
        var delivered = new List<(string Id, string Text)>();

        var files = await _mirror.ListTreeWithBlobsAsync(
            Repos.Infra, head, static path => path.EndsWith(".tf"u8), f => f.Path.StartsWith("d4/", StringComparison.Ordinal),
            (id, content) => delivered.Add((Encoding.ASCII.GetString(id), Encoding.UTF8.GetString(content))), CancellationToken.None);

        var all = await _mirror.ListTreeAsync(Repos.Infra, head, CancellationToken.None);
        Assert.Equal(all.Where(f => f.Path.EndsWith(".tf", StringComparison.Ordinal)), files);
        var wanted = files.Where(f => f.Path.StartsWith("d4/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(wanted);
        Assert.Equal(wanted.Select(f => f.BlobId).Distinct().Order(), delivered.Select(d => d.Id).Order());
        Assert.Contains((wanted.First(f => f.Path == "d4/f1004.tf").BlobId, "content 104\n"), delivered);
    }

    [Fact]
    public async Task ListTreeWithBlobsAsync_UnknownCommit_ThrowsGitException()
    {
        var head = _remote.Write("a.tf", "x\n").Commit("one");
        await _mirror.FetchAsync(Repos.Infra, null, ["refs/heads/main"], [head], CancellationToken.None);

        await Assert.ThrowsAsync<GitException>(() =>
            _mirror.ListTreeWithBlobsAsync(Repos.Infra, new string('1', 40), _ => true, CancellationToken.None));
    }
}
