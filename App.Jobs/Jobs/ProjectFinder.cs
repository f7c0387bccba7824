using System.Collections.Concurrent;
using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;
using Ensemble.Jobs.Git;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// The discovery snapshots of a pull request: its head commit, the merge base it forked from, and the files
/// changed between them, as <see cref="GitMirror.DiffAsync"/> reports them for <c>base...head</c> (renames detected).
/// </summary>
public sealed record PullRequestSnapshots(RepoSnapshot Head, RepoSnapshot Base, IReadOnlyList<ChangedFile> Changes);

/// <summary>
/// Builds discovery snapshots of commits from the git mirror. Scanned facts are cached by git blob id, so a new
/// commit re-scans only the .tf files it changed, and a snapshot of a base commit is reused across pull requests.
/// A head commit's file list is derived from its merge base's plus the raw diff between them, so the whole tree
/// is listed once per base commit, not once per pull request push.
/// With <paramref name="diskCache"/> (the default), facts and listed commits' configuration files are also kept
/// under <see cref="GitMirror.DiscoveryCachePath"/>, so a restarted worker neither re-reads nor re-scans them.
/// </summary>
public sealed class ProjectFinder(GitMirror mirror, bool diskCache = true)
{
    private const int MaxCachedFacts = 200_000;
    private const int MaxCachedSnapshots = 64;
    // A tree of 100,000 files holds ~10 MB of strings (shared with trees derived from it); keep few.
    private const int MaxCachedTrees = 8;

    private readonly ConcurrentDictionary<string, HclFacts> _facts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Repo, string Sha), RepoSnapshot> _snapshots = new();
    private readonly ConcurrentDictionary<(string Repo, string Sha), CommitFiles> _trees = new();
    private readonly ConcurrentDictionary<string, Lazy<DiscoveryDiskCache?>> _disks = new(StringComparer.Ordinal);

    /// <summary>
    /// A commit's files: its .tf files (path → blob id) always at hand, all files (path → blob id) built on first
    /// use: for a derived head that is only when a module names a directory without .tf files, or when the head
    /// becomes a merge base.
    /// </summary>
    private sealed class CommitFiles(Dictionary<string, string> terraform, Func<Dictionary<string, string>> all)
    {
        private readonly Lazy<Dictionary<string, string>> _all = new(all);

        public Dictionary<string, string> Terraform { get; } = terraform;

        public Dictionary<string, string> All => _all.Value;

        /// <summary>Every path, enumerated (and built) only when iterated.</summary>
        public IEnumerable<string> Paths
        {
            get
            {
                foreach (var path in All.Keys)
                {
                    yield return path;
                }
            }
        }
    }

    public async Task<RepoSnapshot> SnapshotAsync(RepoRef repo, string sha, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(repo);
        if (_snapshots.TryGetValue((repo.FullName, sha), out var cached))
        {
            return cached;
        }

        return await SnapshotOfTreeAsync(repo, sha, _trees.GetValueOrDefault((repo.FullName, sha)) ?? FromDisk(repo, sha) ?? await ListTreeAsync(repo, sha, ct), ct);
    }

    /// <summary>
    /// Snapshots of a pull request's head and of its merge base. Only the merge base's tree is ever listed (once,
    /// then cached); the head's is the base's with the changes of <c>git diff-tree mergeBase head</c> applied.
    /// </summary>
    public async Task<PullRequestSnapshots> SnapshotsAsync(RepoRef repo, string mergeBase, string headSha, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentException.ThrowIfNullOrWhiteSpace(mergeBase);
        ArgumentException.ThrowIfNullOrWhiteSpace(headSha);
        var same = string.Equals(mergeBase, headSha, StringComparison.Ordinal);
        // One diff serves both the pull request's changed files and the head's blob ids; it runs while the
        // merge base is listed.
        var diffing = same ? Task.FromResult<IReadOnlyList<RawChange>>([]) : mirror.DiffRawAsync(repo, mergeBase, headSha, ct, findRenames: true);
        var baseTree = _trees.GetValueOrDefault((repo.FullName, mergeBase));
        Task<RepoSnapshot> baseBuilding;
        if (_snapshots.TryGetValue((repo.FullName, mergeBase), out var cachedBase) && baseTree is not null)
        {
            baseBuilding = Task.FromResult(cachedBase);
        }
        else
        {
            try
            {
                baseTree ??= FromDisk(repo, mergeBase) ?? await ListTreeAsync(repo, mergeBase, ct);
            }
            catch
            {
                _ = diffing.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted); // the listing's error is the one to report
                throw;
            }
            var listed = baseTree;
            // Built alongside the head's snapshot below.
            baseBuilding = Task.Run(() => SnapshotOfTreeAsync(repo, mergeBase, listed, ct), ct);
        }

        if (same)
        {
            var only = await baseBuilding;
            return new PullRequestSnapshots(only, only, []);
        }

        var changes = await diffing;
        var changedFiles = changes.Select(c => c.ToChangedFile()).ToList();
        if (_snapshots.TryGetValue((repo.FullName, headSha), out var headSnapshot))
        {
            return new PullRequestSnapshots(headSnapshot, await baseBuilding, changedFiles);
        }

        // O(.tf files + changes): the full file list is derived only if something asks for it.
        var terraform = new Dictionary<string, string>(baseTree.Terraform, StringComparer.Ordinal);
        foreach (var change in changes)
        {
            Apply(terraform, change, IsTerraform);
        }
        var from = baseTree;
        var headTree = new CommitFiles(terraform, () => Apply(from.All, changes));
        Remember(_trees, (repo.FullName, headSha), headTree, MaxCachedTrees);
        headSnapshot = await SnapshotOfTreeAsync(repo, headSha, headTree, ct);
        return new PullRequestSnapshots(headSnapshot, await baseBuilding, changedFiles);
    }

    /// <summary>A commit's files (path → blob id) from its parent's (or any other commit's) and the raw diff between them.</summary>
    internal static Dictionary<string, string> Apply(Dictionary<string, string> from, IReadOnlyList<RawChange> changes)
    {
        var tree = new Dictionary<string, string>(from, StringComparer.Ordinal);
        foreach (var change in changes)
        {
            Apply(tree, change, static _ => true);
        }
        return tree;
    }

    private static void Apply(Dictionary<string, string> tree, RawChange change, Func<string, bool> keep)
    {
        if (change is { Status: 'R', OldPath: { } moved } && keep(moved))
        {
            tree.Remove(moved); // a copy (C) leaves its source in place
        }
        if (!keep(change.Path))
        {
            return;
        }
        if (change.IsFileAfter)
        {
            tree[change.Path] = change.NewId;
        }
        else
        {
            tree.Remove(change.Path);
        }
    }

    private static bool IsTerraform(string path) => ConfigurationFiles.IsConfiguration(path);

    /// <summary>This repository's disk cache, its facts loaded into memory on first use; null when disabled.</summary>
    private DiscoveryDiskCache? Disk(RepoRef repo) => !diskCache ? null : _disks.GetOrAdd(repo.FullName, _ => new Lazy<DiscoveryDiskCache?>(() =>
    {
        var disk = new DiscoveryDiskCache(mirror.DiscoveryCachePath(repo));
        foreach (var (key, facts) in disk.LoadFacts())
        {
            _facts.TryAdd(key, facts);
        }
        return disk;
    })).Value;

    /// <summary>
    /// A commit's configuration files as a previous process listed them. Its full file list is listed again only if
    /// asked for (a module naming a directory without configuration files, or a head derived from it becoming a base).
    /// </summary>
    private CommitFiles? FromDisk(RepoRef repo, string sha)
    {
        if (Disk(repo)?.LoadFiles(sha) is not { } terraform)
        {
            return null;
        }
        // Synchronous by necessity (snapshot building is), rare, and never on a thread with a synchronisation context.
        var tree = new CommitFiles(terraform, () => mirror.ListTreeAsync(repo, sha, CancellationToken.None).GetAwaiter().GetResult()
            .ToDictionary(f => f.Path, f => f.BlobId, StringComparer.Ordinal));
        Remember(_trees, (repo.FullName, sha), tree, MaxCachedTrees);
        return tree;
    }

    private void SaveScanned(RepoRef repo, IReadOnlyCollection<KeyValuePair<string, HclFacts>> scanned)
    {
        if (scanned.Count > 0)
        {
            Disk(repo)?.SaveFacts(scanned);
        }
    }

    private async Task<CommitFiles> ListTreeAsync(RepoRef repo, string sha, CancellationToken ct)
    {
        var disk = Disk(repo);
        if (_facts.Count > MaxCachedFacts / 2)
        {
            _facts.Clear(); // room for a whole commit's .tf files, read below
        }

        // .tf blobs not seen before are read while the tree is still being listed.
        var (files, blobs) = await mirror.ListTreeWithBlobsAsync(
            repo, sha, f => IsTerraform(f.Path) && !_facts.ContainsKey(ConfigurationFiles.FactsKey(f.Path, f.BlobId)), ct);

        var all = new Dictionary<string, string>(files.Count, StringComparer.Ordinal);
        var terraform = new Dictionary<string, string>(StringComparer.Ordinal);
        var toScan = new Dictionary<string, (string Path, string Id)>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            all[file.Path] = file.BlobId;
            if (IsTerraform(file.Path))
            {
                terraform[file.Path] = file.BlobId;
                if (blobs.ContainsKey(file.BlobId))
                {
                    toScan.TryAdd(ConfigurationFiles.FactsKey(file.Path, file.BlobId), (file.Path, file.BlobId));
                }
            }
        }
        var scanned = new ConcurrentDictionary<string, HclFacts>(StringComparer.Ordinal);
        Parallel.ForEach(toScan, entry =>
            _facts[entry.Key] = scanned[entry.Key] = ConfigurationFiles.Scan(entry.Value.Path, Encoding.UTF8.GetString(blobs[entry.Value.Id])));
        SaveScanned(repo, scanned);
        disk?.SaveFiles(sha, terraform);
        var tree = new CommitFiles(terraform, () => all);
        Remember(_trees, (repo.FullName, sha), tree, MaxCachedTrees);
        return tree;
    }

    private async Task<RepoSnapshot> SnapshotOfTreeAsync(RepoRef repo, string sha, CommitFiles tree, CancellationToken ct)
    {
        var tfFiles = tree.Terraform;

        if (_facts.Count + tfFiles.Count > MaxCachedFacts)
        {
            _facts.Clear(); // before deciding what to read: every fact this snapshot needs is then read below
        }

        var missing = new Dictionary<string, (string Path, string Id)>(StringComparer.Ordinal);
        foreach (var (path, id) in tfFiles)
        {
            var key = ConfigurationFiles.FactsKey(path, id);
            if (!_facts.ContainsKey(key))
            {
                missing.TryAdd(key, (path, id));
            }
        }

        if (missing.Count > 0)
        {
            var blobs = await mirror.ReadBlobsAsync(repo, missing.Values.Select(m => m.Id).ToHashSet(StringComparer.Ordinal), ct);
            var scanned = new Dictionary<string, HclFacts>(missing.Count, StringComparer.Ordinal);
            foreach (var (key, (path, id)) in missing)
            {
                _facts[key] = scanned[key] = ConfigurationFiles.Scan(path, Encoding.UTF8.GetString(blobs[id]));
            }
            SaveScanned(repo, scanned);
        }

        var facts = new Dictionary<string, HclFacts>(tfFiles.Count, StringComparer.Ordinal);
        foreach (var (path, id) in tfFiles)
        {
            // Another caller may have cleared the cache meanwhile; the blob is then read again.
            facts[path] = _facts.TryGetValue(ConfigurationFiles.FactsKey(path, id), out var known) ? known : await ScanAsync(repo, path, id, ct);
        }

        var snapshot = RepoSnapshot.BuildFromRepoPaths(facts, tree.Paths);
        Remember(_snapshots, (repo.FullName, sha), snapshot, MaxCachedSnapshots);
        return snapshot;
    }

    private async Task<HclFacts> ScanAsync(RepoRef repo, string path, string id, CancellationToken ct)
    {
        var blobs = await mirror.ReadBlobsAsync(repo, [id], ct);
        return _facts[ConfigurationFiles.FactsKey(path, id)] = ConfigurationFiles.Scan(path, Encoding.UTF8.GetString(blobs[id]));
    }

    private static void Remember<T>(ConcurrentDictionary<(string, string), T> cache, (string, string) key, T value, int capacity)
    {
        if (cache.Count >= capacity)
        {
            cache.Clear();
        }
        cache[key] = value;
    }
}
