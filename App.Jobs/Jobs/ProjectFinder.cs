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
    /// A commit's files: its configuration files sorted by path (ordinal) with their blob ids, and the facts found
    /// so far at the same index (null: not looked up yet), always at hand; all files (path → blob id) built on first
    /// use: for a derived head that is only when a module names a directory without configuration files, or when
    /// the head becomes a merge base.
    /// </summary>
    private sealed class CommitFiles(string[] paths, string[] ids, HclFacts?[] facts, Func<Dictionary<string, string>> all)
    {
        private readonly Lazy<Dictionary<string, string>> _all = new(all);

        public string[] Paths { get; } = paths;

        public string[] Ids { get; } = ids;

        /// <summary>Filled in by <see cref="SnapshotOfTreeAsync"/>; an entry is only ever null or this file's facts.</summary>
        public HclFacts?[] Facts { get; } = facts;

        public Dictionary<string, string> All => _all.Value;

        /// <summary>Every path, enumerated (and built) only when iterated.</summary>
        public IEnumerable<string> AllPaths
        {
            get
            {
                foreach (var path in All.Keys)
                {
                    yield return path;
                }
            }
        }

        /// <summary>From configuration files in any order: sorted here unless they already are (git lists them so).</summary>
        public static CommitFiles Of(List<KeyValuePair<string, string>> files, Func<Dictionary<string, string>> all)
        {
            var sorted = true;
            for (var i = 1; i < files.Count && sorted; i++)
            {
                sorted = string.CompareOrdinal(files[i - 1].Key, files[i].Key) < 0;
            }
            if (!sorted)
            {
                files.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            }
            var paths = new string[files.Count];
            var ids = new string[files.Count];
            for (var i = 0; i < files.Count; i++)
            {
                (paths[i], ids[i]) = (files[i].Key, files[i].Value);
            }
            return new CommitFiles(paths, ids, new HclFacts?[files.Count], all);
        }

        public IReadOnlyCollection<KeyValuePair<string, string>> Pairs() =>
            [.. Paths.Select((path, i) => new KeyValuePair<string, string>(path, Ids[i]))];
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

        // O(configuration files + changes), no hashing of unchanged files: the full file list is derived only if
        // something asks for it, and the facts of unchanged files come from the base's.
        var from = baseTree;
        var headTree = Derive(from, changes, () => Apply(from.All, changes));
        Remember(_trees, (repo.FullName, headSha), headTree, MaxCachedTrees);
        headSnapshot = await SnapshotOfTreeAsync(repo, headSha, headTree, ct);
        return new PullRequestSnapshots(headSnapshot, await baseBuilding, changedFiles);
    }

    /// <summary>
    /// The head's configuration files: the base's sorted list merged with the diff's edits (sorted), keeping the
    /// base's facts where the blob is the same.
    /// </summary>
    private static CommitFiles Derive(CommitFiles from, IReadOnlyList<RawChange> changes, Func<Dictionary<string, string>> all)
    {
        // Each path's last edit wins, as applying the changes one by one would have it: null = absent at the head.
        var edits = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var change in changes)
        {
            if (change is { Status: 'R', OldPath: { } moved } && IsTerraform(moved))
            {
                edits[moved] = null; // a copy (C) leaves its source in place
            }
            if (IsTerraform(change.Path))
            {
                edits[change.Path] = change.IsFileAfter ? change.NewId : null;
            }
        }
        var edited = edits.Keys.ToArray();
        Array.Sort(edited, StringComparer.Ordinal);

        var count = from.Paths.Length + edited.Length;
        var paths = new List<string>(count);
        var ids = new List<string>(count);
        var facts = new List<HclFacts?>(count);
        int i = 0, j = 0;
        while (i < from.Paths.Length || j < edited.Length)
        {
            var order = i == from.Paths.Length ? 1 : j == edited.Length ? -1 : string.CompareOrdinal(from.Paths[i], edited[j]);
            if (order < 0)
            {
                paths.Add(from.Paths[i]);
                ids.Add(from.Ids[i]);
                facts.Add(from.Facts[i]);
                i++;
                continue;
            }
            if (edits[edited[j]] is { } id)
            {
                paths.Add(edited[j]);
                ids.Add(id);
                facts.Add(order == 0 && from.Ids[i] == id ? from.Facts[i] : null);
            }
            if (order == 0)
            {
                i++;
            }
            j++;
        }
        return new CommitFiles([.. paths], [.. ids], [.. facts], all);
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
        var tree = CommitFiles.Of([.. terraform], () => mirror.ListTreeAsync(repo, sha, CancellationToken.None).GetAwaiter().GetResult()
            .ToDictionary(f => f.Path, f => f.BlobId, StringComparer.Ordinal));
        for (var i = 0; i < tree.Paths.Length; i++)
        {
            // Now rather than during the build: a head derived meanwhile then reuses them instead of looking up its own.
            tree.Facts[i] = _facts.GetValueOrDefault(ConfigurationFiles.FactsKey(tree.Paths[i], tree.Ids[i]));
        }
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
        var terraform = new List<KeyValuePair<string, string>>();
        var toScan = new Dictionary<string, (string Path, string Id)>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            all[file.Path] = file.BlobId;
            if (IsTerraform(file.Path))
            {
                terraform.Add(new(file.Path, file.BlobId));
                if (blobs.ContainsKey(file.BlobId))
                {
                    toScan.TryAdd(ConfigurationFiles.FactsKey(file.Path, file.BlobId), (file.Path, file.BlobId));
                }
            }
        }
        var scanned = new ConcurrentDictionary<string, HclFacts>(StringComparer.Ordinal);
        Parallel.ForEach(toScan, entry =>
            _facts[entry.Key] = scanned[entry.Key] = ConfigurationFiles.Scan(entry.Value.Path, Encoding.UTF8.GetString(blobs[entry.Value.Id])));
        var tree = CommitFiles.Of(terraform, () => all);
        for (var i = 0; i < tree.Paths.Length; i++)
        {
            // Facts just scanned are kept with the tree: a cache cleared meanwhile cannot lose them.
            tree.Facts[i] = scanned.GetValueOrDefault(ConfigurationFiles.FactsKey(tree.Paths[i], tree.Ids[i]));
        }
        SaveScanned(repo, scanned);
        disk?.SaveFiles(sha, tree.Pairs());
        Remember(_trees, (repo.FullName, sha), tree, MaxCachedTrees);
        return tree;
    }

    private async Task<RepoSnapshot> SnapshotOfTreeAsync(RepoRef repo, string sha, CommitFiles tree, CancellationToken ct)
    {
        var facts = tree.Facts;
        if (_facts.Count + facts.Length > MaxCachedFacts)
        {
            _facts.Clear(); // before deciding what to read: every fact this snapshot needs is then read below
        }

        var missing = new Dictionary<string, (string Path, string Id)>(StringComparer.Ordinal);
        for (var i = 0; i < facts.Length; i++)
        {
            if (facts[i] is not null)
            {
                continue;
            }
            var key = ConfigurationFiles.FactsKey(tree.Paths[i], tree.Ids[i]);
            if (_facts.TryGetValue(key, out var known))
            {
                facts[i] = known;
            }
            else
            {
                missing.TryAdd(key, (tree.Paths[i], tree.Ids[i]));
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
            for (var i = 0; i < facts.Length; i++)
            {
                facts[i] ??= scanned[ConfigurationFiles.FactsKey(tree.Paths[i], tree.Ids[i])];
            }
            SaveScanned(repo, scanned);
        }

        var snapshot = RepoSnapshot.BuildSorted(tree.Paths, facts!, tree.AllPaths);
        Remember(_snapshots, (repo.FullName, sha), snapshot, MaxCachedSnapshots);
        return snapshot;
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
