using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.Jobs;
using Ensemble.Tests.Git;

namespace Ensemble.Tests.Discovery;

/// <summary>
/// The disk cache a restarted worker starts from: it gives the same snapshots as no cache at all, and a damaged
/// cache file is ignored and rebuilt, never turned into projects.
/// </summary>
[Trait("Category", "Integration")] // runs the real git CLI
public sealed class ProjectFinderDiskCacheTests : IDisposable
{
    private static readonly RepoRef Repo = new(1, "acme", "infra");
    private const string S3 = "terraform {\n  backend \"s3\" {}\n}\n";
    private readonly GitSandbox _sandbox = new();
    private readonly TestRepository _remote;
    private readonly GitMirror _mirror;
    private readonly string _baseSha;
    private readonly string _headSha;

    public ProjectFinderDiskCacheTests()
    {
        _remote = _sandbox.CreateRemote();
        _mirror = _sandbox.CreateMirror();
        _baseSha = _remote
            .Write("envs/a/backend.tf", S3)
            .Write("envs/a/main.tf", "module \"m\" {\n  source = \"../../modules/m\"\n}\n")
            .Write("envs/b/backend.tf.json", """{"terraform": {"backend": {"gcs": {}}}}""")
            .Write("envs/b/main.tf", "module \"d\" {\n  source = \"../../docs\"\n}\n")
            .Write("docs/README.md", "no terraform\n")
            .Write("modules/m/main.tf", "locals {\n  x = file(\"${path.module}/p.json\")\n}\n")
            .Write("modules/m/p.json", "{}\n")
            .Commit("base");
        _headSha = _remote
            .Write("envs/c/backend.tofu", "terraform {\n  backend \"pg\" {}\n}\n")
            .Write("modules/m/p.json", "{\"x\": 1}\n")
            .Commit("head");
        _mirror.FetchAsync(Repo, null, ["refs/heads/main"], [_baseSha, _headSha], CancellationToken.None).GetAwaiter().GetResult();
    }

    public void Dispose() => _sandbox.Dispose();

    private string CacheDirectory => _mirror.DiscoveryCachePath(Repo);

    private async Task<List<string>> DiscoverAsync(ProjectFinder finder)
    {
        var pair = await finder.SnapshotsAsync(Repo, _baseSha, _headSha, CancellationToken.None);
        var result = ProjectDiscovery.Affected(pair.Head, pair.Base, pair.Changes);
        await finder.FlushAsync(); // the cache is written in the background
        return [
            .. pair.Base.Projects.Select(p => $"base {p.Path} {p.BackendType}"),
            .. pair.Head.Projects.Select(p => $"head {p.Path} {p.BackendType}"),
            .. pair.Head.Problems.Select(p => $"problem {p.Message}"),
            .. result.Projects.Select(p => $"affected {p.Path}: {string.Join("; ", p.Reasons)}"),
        ];
    }

    [Fact]
    public async Task SnapshotsAsync_FreshFinderOnWarmDiskCache_GivesWhatNoCacheGives()
    {
        var uncached = await DiscoverAsync(new ProjectFinder(_mirror, diskCache: false));
        Assert.False(Directory.Exists(CacheDirectory));

        var first = await DiscoverAsync(new ProjectFinder(_mirror));
        var files = Directory.GetFiles(CacheDirectory).Select(Path.GetFileName).ToList();
        var second = await DiscoverAsync(new ProjectFinder(_mirror));

        Assert.Equal(uncached, first);
        Assert.Equal(uncached, second);
        Assert.Contains($"files-{_baseSha}.bin", files);
        Assert.Contains(files, f => f!.StartsWith("facts-", StringComparison.Ordinal));
        Assert.Contains("problem envs/b/main.tf:1: module 'd' source \"../../docs\": module directory docs has no .tf files", second);
        Assert.Contains(second, l => l.StartsWith("affected envs/a: ", StringComparison.Ordinal) && l.Contains("(read by modules/m)", StringComparison.Ordinal));
        Assert.Contains(second, l => l.StartsWith("affected envs/c: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SnapshotsAsync_CachedFactsOfABlob_AreUsedInsteadOfRereadingIt()
    {
        // Proves the cache is read, keyed by blob id: a planted fact for envs/a/backend.tf's blob wins.
        var blob = (await _mirror.ListTreeAsync(Repo, _baseSha, CancellationToken.None)).Single(f => f.Path == "envs/a/backend.tf").BlobId;
        Directory.CreateDirectory(CacheDirectory);
        File.WriteAllBytes(Path.Combine(CacheDirectory, "facts-planted.bin"), DiscoveryCacheCodec.EncodeFacts(
            [new(blob, new HclFacts(new BackendBlock("planted", 1), [], null, [], []))], DiscoveryCacheCodec.CodeVersion));

        var pair = await new ProjectFinder(_mirror).SnapshotsAsync(Repo, _baseSha, _headSha, CancellationToken.None);

        Assert.Equal(new Project("envs/a", "planted"), pair.Base.FindProject("envs/a"));
    }

    [Fact]
    public async Task SnapshotsAsync_CacheWrittenInTheBackground_IsCompleteOrAbsentWhileBeingWritten()
    {
        var uncached = await DiscoverAsync(new ProjectFinder(_mirror, diskCache: false));
        var finder = new ProjectFinder(_mirror);
        await finder.SnapshotsAsync(Repo, _baseSha, _headSha, CancellationToken.None);
        var flushing = finder.FlushAsync();

        // Whatever a reader finds under a final name while the writes go on decodes whole.
        do
        {
            foreach (var file in Directory.Exists(CacheDirectory) ? Directory.GetFiles(CacheDirectory, "*.bin") : [])
            {
                byte[] bytes;
                try
                {
                    bytes = File.ReadAllBytes(file);
                }
                catch (FileNotFoundException)
                {
                    continue; // merged away meanwhile
                }
                var name = Path.GetFileName(file);
                Assert.True(name.StartsWith("files-", StringComparison.Ordinal)
                    ? DiscoveryCacheCodec.DecodeFiles(bytes, name["files-".Length..^".bin".Length], DiscoveryCacheCodec.CodeVersion) is not null
                    : DiscoveryCacheCodec.DecodeFacts(bytes, DiscoveryCacheCodec.CodeVersion) is not null, $"{name} is partial");
            }
        }
        while (!flushing.IsCompleted);
        await flushing;

        Assert.Equal(uncached, await DiscoverAsync(new ProjectFinder(_mirror)));
        Assert.Contains($"files-{_baseSha}.bin", Directory.GetFiles(CacheDirectory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task SnapshotsAsync_TemporaryFilesOfAbandonedWrites_AreDeletedOnceOldButNotWhileFresh()
    {
        Directory.CreateDirectory(CacheDirectory);
        var abandoned = Path.Combine(CacheDirectory, ".facts-x.bin.0123.tmp");
        var fresh = Path.Combine(CacheDirectory, ".facts-y.bin.4567.tmp");
        File.WriteAllBytes(abandoned, [1, 2, 3]);
        File.WriteAllBytes(fresh, [1, 2, 3]);
        File.SetLastWriteTimeUtc(abandoned, DateTime.UtcNow.AddHours(-2));

        await DiscoverAsync(new ProjectFinder(_mirror));

        Assert.False(File.Exists(abandoned));
        Assert.True(File.Exists(fresh)); // perhaps another process's write in progress
    }

    public static TheoryData<string> Damages => ["truncate", "flip", "empty", "garbage"];

    [Theory]
    [MemberData(nameof(Damages))]
    public async Task SnapshotsAsync_DamagedCacheFiles_AreIgnoredAndRebuilt(string damage)
    {
        var uncached = await DiscoverAsync(new ProjectFinder(_mirror, diskCache: false));
        await DiscoverAsync(new ProjectFinder(_mirror));
        var damaged = Directory.GetFiles(CacheDirectory);
        foreach (var file in damaged)
        {
            var bytes = File.ReadAllBytes(file);
            File.WriteAllBytes(file, damage switch
            {
                "truncate" => bytes[..(bytes.Length / 2)],
                "flip" => Flip(bytes),
                "empty" => [],
                _ => [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7))],
            });
        }

        var after = await DiscoverAsync(new ProjectFinder(_mirror));

        Assert.Equal(uncached, after);
        // Rebuilt: the next fresh finder finds decodable files again.
        var facts = Directory.GetFiles(CacheDirectory, "facts-*.bin")
            .Select(f => DiscoveryCacheCodec.DecodeFacts(File.ReadAllBytes(f), DiscoveryCacheCodec.CodeVersion)).ToList();
        Assert.NotEmpty(facts);
        Assert.All(facts, Assert.NotNull);
        Assert.NotNull(DiscoveryCacheCodec.DecodeFiles(
            File.ReadAllBytes(Path.Combine(CacheDirectory, $"files-{_baseSha}.bin")), _baseSha, DiscoveryCacheCodec.CodeVersion));
    }

    private static byte[] Flip(byte[] bytes)
    {
        var copy = bytes.ToArray();
        copy[copy.Length / 2] ^= 0x01;
        return copy;
    }
}
