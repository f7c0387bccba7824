using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.Jobs;
using Ensemble.Tests.Git;

namespace Ensemble.Tests.Discovery;

/// <summary>
/// A head snapshot derived from the merge base's tree plus <c>git diff-tree</c> must equal one built from a full
/// listing of the head, whatever the edits: checked on real git repositories with random edits.
/// </summary>
[Trait("Category", "Integration")] // runs the real git CLI
public sealed class ProjectFinderDerivationTests : IDisposable
{
    private static readonly RepoRef Repo = new(1, "acme", "infra");
    private readonly GitSandbox _sandbox = new();
    private readonly TestRepository _remote;
    private readonly GitMirror _mirror;

    public ProjectFinderDerivationTests()
    {
        _remote = _sandbox.CreateRemote();
        _mirror = _sandbox.CreateMirror();
    }

    public void Dispose() => _sandbox.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task SnapshotsAsync_RandomEdits_DerivedHeadEqualsFullListing(int seed)
    {
        var commits = await RandomHistoryAsync(seed);
        for (var i = 1; i < commits.Count; i++)
        {
            var from = commits[i - 1];
            var to = commits[i];
            var derived = ProjectFinder.Apply(
                (await _mirror.ListTreeAsync(Repo, from, CancellationToken.None)).ToDictionary(f => f.Path, f => f.BlobId),
                await _mirror.DiffRawAsync(Repo, from, to, CancellationToken.None));
            var listed = (await _mirror.ListTreeAsync(Repo, to, CancellationToken.None)).ToDictionary(f => f.Path, f => f.BlobId);
            Assert.Equal(listed.OrderBy(f => f.Key, StringComparer.Ordinal), derived.OrderBy(f => f.Key, StringComparer.Ordinal));
            var withRenames = await _mirror.DiffRawAsync(Repo, from, to, CancellationToken.None, findRenames: true);
            var derivedWithRenames = ProjectFinder.Apply(
                (await _mirror.ListTreeAsync(Repo, from, CancellationToken.None)).ToDictionary(f => f.Path, f => f.BlobId), withRenames);
            Assert.Equal(listed.OrderBy(f => f.Key, StringComparer.Ordinal), derivedWithRenames.OrderBy(f => f.Key, StringComparer.Ordinal));

            var pair = await new ProjectFinder(_mirror).SnapshotsAsync(Repo, commits[0], to, CancellationToken.None);
            var full = await new ProjectFinder(_mirror, diskCache: false).SnapshotAsync(Repo, to, CancellationToken.None);
            Assert.Equal(Describe(full, listed.Keys), Describe(pair.Head, listed.Keys));
            // Incremental: the base's snapshot and facts already in memory, the head's derived from them.
            var warm = new ProjectFinder(_mirror, diskCache: false);
            await warm.SnapshotsAsync(Repo, commits[0], commits[0], CancellationToken.None);
            Assert.Equal(Describe(full, listed.Keys), Describe((await warm.SnapshotsAsync(Repo, commits[0], to, CancellationToken.None)).Head, listed.Keys));
            Assert.Equal(await _mirror.DiffAsync(Repo, commits[0], to, CancellationToken.None), pair.Changes);
            Assert.Equal(
                Describe(await new ProjectFinder(_mirror).SnapshotAsync(Repo, commits[0], CancellationToken.None), listed.Keys),
                Describe(pair.Base, listed.Keys));
        }
    }

    [Theory]
    [InlineData(4, false)]
    [InlineData(5, false)]
    [InlineData(4, true)]
    [InlineData(5, true)]
    public async Task SnapshotsAsync_NewBaseAfterAnOlderOne_DerivedBaseEqualsFullListing(int seed, bool fromDisk)
    {
        var commits = await RandomHistoryAsync(seed);
        var kept = new ProjectFinder(_mirror, diskCache: fromDisk);
        await kept.SnapshotsAsync(Repo, commits[0], commits[0], CancellationToken.None);
        await kept.FlushAsync();

        for (var i = 1; i < commits.Count; i++)
        {
            // A worker that stays up derives from the base it listed last; a restarted one from the newest on disk.
            var finder = fromDisk ? new ProjectFinder(_mirror) : kept;
            var pair = await finder.SnapshotsAsync(Repo, commits[i], commits[i], CancellationToken.None);
            await finder.FlushAsync();

            var listed = (await _mirror.ListTreeAsync(Repo, commits[i], CancellationToken.None)).Select(f => f.Path).ToList();
            var full = await new ProjectFinder(_mirror, diskCache: false).SnapshotAsync(Repo, commits[i], CancellationToken.None);
            Assert.Equal(Describe(full, listed), Describe(pair.Base, listed));
        }
    }

    [Fact]
    public async Task SnapshotsAsync_NewBaseWithAnOlderBaseOnDisk_IsDerivedFromIt()
    {
        var older = _remote.Write("envs/a/backend.tf", "terraform {\n  backend \"s3\" {}\n}\n").Commit("older");
        var newer = _remote.Write("envs/b/backend.tf", "terraform {\n  backend \"gcs\" {}\n}\n").Commit("newer");
        await _mirror.FetchAsync(Repo, null, ["refs/heads/main"], [older, newer], CancellationToken.None);
        await PlantFilesAsync(older, older, "envs/planted/backend.tf");

        var pair = await new ProjectFinder(_mirror).SnapshotsAsync(Repo, newer, newer, CancellationToken.None);

        // The planted file is only in the cached list of the older commit: seeing it proves the derivation, and
        // the diff's change (envs/b) is applied on top.
        Assert.Equal(["envs/a", "envs/b", "envs/planted"], pair.Base.Projects.Select(p => p.Path));
    }

    [Fact]
    public async Task SnapshotsAsync_OlderBaseOnDiskNoLongerInTheMirror_ListsTheNewBase()
    {
        var only = _remote.Write("envs/a/backend.tf", "terraform {\n  backend \"s3\" {}\n}\n").Commit("only");
        await _mirror.FetchAsync(Repo, null, ["refs/heads/main"], [only], CancellationToken.None);
        await PlantFilesAsync(new string('a', 40), only, "envs/planted/backend.tf");

        var pair = await new ProjectFinder(_mirror).SnapshotsAsync(Repo, only, only, CancellationToken.None);

        Assert.Equal(["envs/a"], pair.Base.Projects.Select(p => p.Path));
    }

    /// <summary>Writes a disk cache file list for <paramref name="commit"/>: <paramref name="listedFrom"/>'s configuration files plus one planted file.</summary>
    private async Task PlantFilesAsync(string commit, string listedFrom, string planted)
    {
        var files = (await _mirror.ListTreeAsync(Repo, listedFrom, CancellationToken.None))
            .Where(f => ConfigurationFiles.IsConfiguration(f.Path)).ToList();
        var pairs = files.Select(f => new KeyValuePair<string, string>(f.Path, f.BlobId))
            .Append(new(planted, files[0].BlobId))
            .OrderBy(f => f.Key, StringComparer.Ordinal).ToList();
        var directory = _mirror.DiscoveryCachePath(Repo);
        Directory.CreateDirectory(directory);
        await File.WriteAllBytesAsync(Path.Combine(directory, $"files-{commit}.bin"), DiscoveryCacheCodec.EncodeFiles(commit, pairs, DiscoveryCacheCodec.CodeVersion));
    }

    /// <summary>A base commit and three more, each after six random edits, fetched into the mirror.</summary>
    private async Task<List<string>> RandomHistoryAsync(int seed)
    {
        var random = new Random(seed);
        var files = new List<string>();
        for (var p = 0; p < 6; p++)
        {
            Add(files, $"envs/p{p}/backend.tf", $"terraform {{\n  backend \"s3\" {{}}\n}}\n");
            Add(files, $"envs/p{p}/main.tf", $"module \"m\" {{\n  source = \"../../modules/m{p % 3}\"\n}}\n");
            Add(files, $"envs/p{p}/README.md", "docs\n");
        }
        for (var m = 0; m < 3; m++)
        {
            Add(files, $"modules/m{m}/main.tf", $"locals {{ x = file(\"${{path.module}}/data{m}.json\") }}\n");
            Add(files, $"modules/m{m}/data{m}.json", "{}\n");
        }
        var commits = new List<string> { _remote.Commit("base") };

        for (var round = 0; round < 3; round++)
        {
            for (var edit = 0; edit < 6; edit++)
            {
                Edit(random, files);
            }
            commits.Add(_remote.Commit($"round {round}"));
        }

        await _mirror.FetchAsync(Repo, null, ["refs/heads/main"], commits, CancellationToken.None);
        return commits;
    }

    [Fact]
    public async Task SnapshotsAsync_BaseCachedThenNewHead_SeesTheHeadsChanges()
    {
        _remote.Write("envs/a/main.tf", "terraform {\n  backend \"s3\" {}\n}\n").Commit("base");
        var baseSha = _remote.Head;
        var head = _remote.Write("envs/b/main.tf", "terraform {\n  backend \"gcs\" {}\n}\n").Delete("envs/a/main.tf").Commit("move");
        await _mirror.FetchAsync(Repo, null, ["refs/heads/main"], [baseSha, head], CancellationToken.None);
        var finder = new ProjectFinder(_mirror);
        await finder.SnapshotsAsync(Repo, baseSha, baseSha, CancellationToken.None);

        var pair = await finder.SnapshotsAsync(Repo, baseSha, head, CancellationToken.None);

        Assert.Equal([new Project("envs/a", "s3")], pair.Base.Projects);
        Assert.Equal([new Project("envs/b", "gcs")], pair.Head.Projects);
    }

    [Fact]
    public async Task SnapshotsAsync_HeadCallsDirectoryWithoutTerraform_DerivedHeadTellsItExists()
    {
        var baseSha = _remote.Write("envs/a/main.tf", "terraform {\n  backend \"s3\" {}\n}\n").Commit("base");
        var head = _remote
            .Write("modules/docs-only/README.md", "no terraform here\n")
            .Write("envs/a/use.tf", "module \"d\" {\n  source = \"../../modules/docs-only\"\n}\nmodule \"g\" {\n  source = \"../../modules/gone\"\n}\n")
            .Commit("call a docs directory");
        await _mirror.FetchAsync(Repo, null, ["refs/heads/main"], [baseSha, head], CancellationToken.None);

        var pair = await new ProjectFinder(_mirror).SnapshotsAsync(Repo, baseSha, head, CancellationToken.None);

        Assert.Equal(
            [
                "envs/a/use.tf:1: module 'd' source \"../../modules/docs-only\": module directory modules/docs-only has no .tf files",
                "envs/a/use.tf:4: module 'g' source \"../../modules/gone\": module directory modules/gone does not exist",
            ],
            pair.Head.Problems.Select(p => p.Message));
        Assert.Empty(pair.Base.Problems);
    }

    [Fact]
    public async Task SnapshotsAsync_JsonAndTofuFiles_AreScannedAndChangesMarkTheirProjects()
    {
        var baseSha = _remote
            .Write("envs/a/backend.tf.json", """{"terraform": {"backend": {"s3": {}}}}""")
            .Write("envs/b/backend.tofu", "terraform {\n  backend \"pg\" {}\n}\n")
            .Write("envs/b/notes.tf", "")
            .Write("modules/m/main.tf", "")
            .Commit("base");
        var head = _remote
            .Write("envs/a/main.tf.json", """{"module": {"m": {"source": "../../modules/m"}}}""")
            .Write("envs/b/main.tofu", "# edited\n")
            .Write("envs/c/backend.tf.json", "") // the same blob as notes.tf: valid HCL, invalid JSON
            .Commit("head");
        await _mirror.FetchAsync(Repo, null, ["refs/heads/main"], [baseSha, head], CancellationToken.None);

        var pair = await new ProjectFinder(_mirror).SnapshotsAsync(Repo, baseSha, head, CancellationToken.None);
        var result = ProjectDiscovery.Affected(pair.Head, pair.Base, pair.Changes);

        Assert.Equal([new Project("envs/a", "s3"), new Project("envs/b", "pg")], pair.Head.Projects);
        Assert.Equal(["modules/m"], pair.Head.DirectModules("envs/a"));
        Assert.Equal(["envs/a", "envs/b"], result.Projects.Select(p => p.Path));
        Assert.Equal(["envs/c/backend.tf.json:1: invalid JSON"], pair.Head.Problems.Select(p => p.Message[..p.Message.IndexOf("JSON", StringComparison.Ordinal)] + "JSON"));
    }

    private void Add(List<string> files, string path, string content)
    {
        _remote.Write(path, content);
        files.Add(path);
    }

    /// <summary>One random edit: modify, add, delete, rename, make executable, or turn into a symlink.</summary>
    private void Edit(Random random, List<string> files)
    {
        var path = files[random.Next(files.Count)];
        var full = Path.Combine(_remote.Path, path);
        switch (random.Next(6))
        {
            case 0 when File.Exists(full) && new FileInfo(full).LinkTarget is null:
                File.AppendAllText(full, path.EndsWith(".tf", StringComparison.Ordinal) ? "# edit\n" : "more\n");
                break;
            case 1:
                var added = $"envs/n{random.Next(1000)}/main.tf";
                _remote.Write(added, random.Next(2) == 0 ? "terraform {\n  backend \"local\" {}\n}\n" : "module \"x\" {\n  source = \"../../modules/m0\"\n}\n");
                files.Add(added);
                break;
            case 2:
                File.Delete(full);
                files.Remove(path);
                break;
            case 3 when File.Exists(full):
                var renamed = $"moved/{random.Next(1000)}/{Path.GetFileName(path)}";
                _remote.Move(path, renamed);
                files.Remove(path);
                files.Add(renamed);
                break;
            case 4 when File.Exists(full) && new FileInfo(full).LinkTarget is null:
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(full, File.GetUnixFileMode(full) | UnixFileMode.UserExecute);
                }
                break;
            case 5:
                File.Delete(full);
                File.CreateSymbolicLink(full, "elsewhere.tf");
                break;
        }
    }

    /// <summary>Everything a snapshot answers, over every directory of the tree, as comparable text.</summary>
    private static List<string> Describe(RepoSnapshot snapshot, IEnumerable<string> paths)
    {
        var lines = snapshot.Projects.Select(p => $"project {p.Path} {p.BackendType}").ToList();
        lines.AddRange(snapshot.Problems.Select(p => $"problem {p.Message} [{string.Join(", ", p.Directories)}]"));
        var directories = paths.Select(p => p.Contains('/', StringComparison.Ordinal) ? p[..p.LastIndexOf('/')] : ".")
            .Append("modules/m0").Append("modules/m1").Append("modules/m2")
            .Distinct().Order(StringComparer.Ordinal);
        foreach (var directory in directories)
        {
            lines.Add($"{directory}: tf={snapshot.HasTerraformFiles(directory)} module={snapshot.IsModule(directory)} " +
                      $"uses=[{string.Join(", ", snapshot.ModulesUsedBy(directory))}] reads=[{string.Join(", ", snapshot.ReadersOf($"{directory}/data0.json"))}]");
        }
        return lines;
    }
}
