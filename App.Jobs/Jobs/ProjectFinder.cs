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
    // Per repository: the last commit whose files were listed, loaded or derived as a base, to derive the next from.
    private readonly ConcurrentDictionary<string, string> _lastListed = new(StringComparer.Ordinal);
    private readonly Lock _persisting = new();
    private Task _persisted = Task.CompletedTask;
    private readonly List<Action> _pendingWrites = [];

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
        public static CommitFiles Of(IReadOnlyList<TreeFile> files, Func<Dictionary<string, string>> all)
        {
            var paths = new string[files.Count];
            var ids = new string[files.Count];
            var sorted = true;
            for (var i = 0; i < files.Count; i++)
            {
                (paths[i], ids[i]) = (files[i].Path, files[i].BlobId);
                sorted = sorted && (i == 0 || string.CompareOrdinal(paths[i - 1], paths[i]) < 0);
            }
            if (!sorted)
            {
                // UTF-8 byte order (git's) and UTF-16 ordinal order differ for a few characters.
                Array.Sort(paths, ids, StringComparer.Ordinal);
            }
            return new CommitFiles(paths, ids, new HclFacts?[files.Count], all);
        }

        public IReadOnlyCollection<KeyValuePair<string, string>> Pairs() =>
            [.. Paths.Select((path, i) => new KeyValuePair<string, string>(path, Ids[i]))];
    }

    public async Task<RepoSnapshot> SnapshotAsync(RepoRef repo, string sha, CancellationToken ct)
    {
        try
        {
            return await SnapshotCoreAsync(repo, sha, ct);
        }
        finally
        {
            StartWrites();
        }
    }

    private async Task<RepoSnapshot> SnapshotCoreAsync(RepoRef repo, string sha, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(repo);
        if (_snapshots.TryGetValue((repo.FullName, sha), out var cached))
        {
            return cached;
        }

        return await SnapshotOfTreeAsync(repo, sha, _trees.GetValueOrDefault((repo.FullName, sha)) ?? await TreeOfAsync(repo, sha, ct), ct);
    }

    /// <summary>
    /// Snapshots of a pull request's head and of its merge base. Only the merge base's tree is ever listed (once,
    /// then cached); the head's is the base's with the changes of <c>git diff-tree mergeBase head</c> applied.
    /// </summary>
    public async Task<PullRequestSnapshots> SnapshotsAsync(RepoRef repo, string mergeBase, string headSha, CancellationToken ct)
    {
        try
        {
            return await SnapshotsCoreAsync(repo, mergeBase, headSha, ct);
        }
        finally
        {
            StartWrites();
        }
    }

    private async Task<PullRequestSnapshots> SnapshotsCoreAsync(RepoRef repo, string mergeBase, string headSha, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentException.ThrowIfNullOrWhiteSpace(mergeBase);
        ArgumentException.ThrowIfNullOrWhiteSpace(headSha);
        var same = string.Equals(mergeBase, headSha, StringComparison.Ordinal);
        // One diff serves both the pull request's changed files and the head's blob ids; it runs while the
        // merge base is listed.
        var diffing = same ? Task.FromResult<IReadOnlyList<RawChange>>([]) : mirror.DiffRawAsync(repo, mergeBase, headSha, ct, findRenames: true);
        // The head's new configuration blobs are read and scanned as soon as the diff is in, while the merge base
        // is still being listed (or built), instead of by one more git process after it.
        var prefetching = same || _snapshots.ContainsKey((repo.FullName, headSha)) ? Task.CompletedTask : ScanNewBlobsAsync(repo, diffing, ct);
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
                baseTree ??= await TreeOfAsync(repo, mergeBase, ct);
            }
            catch
            {
                // The listing's error is the one to report.
                _ = diffing.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
                _ = prefetching.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
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
            _ = prefetching.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted); // built meanwhile: not needed
            return new PullRequestSnapshots(headSnapshot, await baseBuilding, changedFiles);
        }

        // O(configuration files + changes), no hashing of unchanged files: the full file list is derived only if
        // something asks for it, and the facts of unchanged files come from the base's.
        var from = baseTree;
        var headTree = Derive(from, changes, () => Apply(from.All, changes));
        Remember(_trees, (repo.FullName, headSha), headTree, MaxCachedTrees);
        await prefetching;
        headSnapshot = await SnapshotOfTreeAsync(repo, headSha, headTree, ct);
        return new PullRequestSnapshots(headSnapshot, await baseBuilding, changedFiles);
    }

    /// <summary>Reads and scans the configuration blobs a diff adds or changes whose facts are not known yet.</summary>
    private async Task ScanNewBlobsAsync(RepoRef repo, Task<IReadOnlyList<RawChange>> diffing, CancellationToken ct)
    {
        var wanted = new Dictionary<string, (string Path, string Id)>(StringComparer.Ordinal);
        foreach (var change in await diffing.ConfigureAwait(false))
        {
            if (change.IsFileAfter && IsTerraform(change.Path))
            {
                var key = ConfigurationFiles.FactsKey(change.Path, change.NewId);
                if (!_facts.ContainsKey(key))
                {
                    wanted.TryAdd(key, (change.Path, change.NewId));
                }
            }
        }
        if (wanted.Count == 0)
        {
            return;
        }
        var blobs = await mirror.ReadBlobsAsync(repo, wanted.Values.Select(w => w.Id).ToHashSet(StringComparer.Ordinal), ct).ConfigureAwait(false);
        var scanned = new Dictionary<string, HclFacts>(wanted.Count, StringComparer.Ordinal);
        foreach (var (key, (path, id)) in wanted)
        {
            _facts[key] = scanned[key] = ConfigurationFiles.Scan(path, Encoding.UTF8.GetString(blobs[id]));
        }
        SaveScanned(repo, scanned);
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
    /// A commit's files not in memory: as a previous process listed them, else derived from an older commit's (a new
    /// default-branch commit as a pull request's merge base, the common "cold" case), else listed.
    /// </summary>
    private async Task<CommitFiles> TreeOfAsync(RepoRef repo, string sha, CancellationToken ct)
    {
        var tree = FromDisk(repo, sha) ?? await FromOlderCommitAsync(repo, sha, ct) ?? await ListTreeAsync(repo, sha, ct);
        _lastListed[repo.FullName] = sha;
        return tree;
    }

    /// <summary>
    /// The commit's configuration files derived from those of the last commit this finder listed (or, in a fresh
    /// process, the newest one on disk) plus one <c>git diff-tree</c> between the two: unchanged files keep their
    /// facts, so only the blobs that differ are read. Null when there is no such commit or git no longer has it.
    /// </summary>
    private async Task<CommitFiles?> FromOlderCommitAsync(RepoRef repo, string sha, CancellationToken ct)
    {
        var olderSha = _lastListed.GetValueOrDefault(repo.FullName);
        var older = olderSha is null ? null : _trees.GetValueOrDefault((repo.FullName, olderSha));
        if (older is null)
        {
            olderSha = Disk(repo)?.Commits().FirstOrDefault(c => !string.Equals(c, sha, StringComparison.Ordinal));
            older = olderSha is null ? null : FromDisk(repo, olderSha);
        }
        if (older is null || olderSha is null)
        {
            return null;
        }

        IReadOnlyList<RawChange> changes;
        try
        {
            changes = await mirror.DiffRawAsync(repo, olderSha, sha, ct);
        }
        catch (GitException)
        {
            return null; // the older commit is no longer in the mirror (re-created, pruned): list instead
        }
        var tree = Derive(older, changes, () => Apply(older.All, changes));
        Persist(repo, disk => disk.SaveFiles(sha, tree.Pairs()));
        Remember(_trees, (repo.FullName, sha), tree, MaxCachedTrees);
        return tree;
    }

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
        var tree = CommitFiles.Of([.. terraform.Select(f => new TreeFile(f.Key, f.Value))], () => AllFiles(repo, sha));
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
            Persist(repo, disk => disk.SaveFacts(scanned));
        }
    }

    /// <summary>
    /// Keeps a disk cache write for <see cref="StartWrites"/>: encoding and writing a large repository's cache
    /// costs a noticeable share of a cold discovery (CPU and garbage collections), so it happens after the
    /// snapshots are returned, in the background. Each file is written whole under a temporary name and renamed,
    /// so a reader (or a process killed meanwhile) finds it complete or not at all.
    /// </summary>
    private void Persist(RepoRef repo, Action<DiscoveryDiskCache> write)
    {
        if (Disk(repo) is not { } disk)
        {
            return;
        }
        lock (_persisting)
        {
            _pendingWrites.Add(() => write(disk));
        }
    }

    /// <summary>Queues the kept writes behind the earlier ones, on the thread pool, one at a time.</summary>
    private void StartWrites()
    {
        lock (_persisting)
        {
            foreach (var write in _pendingWrites)
            {
                _persisted = _persisted.ContinueWith(_ => write(), CancellationToken.None, TaskContinuationOptions.DenyChildAttach, TaskScheduler.Default);
            }
            _pendingWrites.Clear();
        }
    }

    /// <summary>
    /// Completes when every disk cache write kept so far has finished (they run in the background after each
    /// call): for a graceful shutdown that wants the next start warm, and for tests.
    /// </summary>
    public Task FlushAsync()
    {
        StartWrites();
        lock (_persisting)
        {
            return _persisted;
        }
    }

    /// <summary>
    /// Lists the commit's configuration files (only those become strings) while a concurrent <c>cat-file</c> reads
    /// the blobs whose facts are not known yet, each scanned as soon as it arrives, straight from the read buffer:
    /// listing, reading and scanning overlap. The full file list is listed again only if something asks for it.
    /// </summary>
    private async Task<CommitFiles> ListTreeAsync(RepoRef repo, string sha, CancellationToken ct)
    {
        if (_facts.Count > MaxCachedFacts / 2)
        {
            _facts.Clear(); // room for a whole commit's configuration files, read below
        }

        // The files whose blobs cat-file is asked for, in order: it answers in that order, so each answer is scanned
        // with the syntax its path says. Only the first file of each facts key is asked for; a blob that is also
        // listed under the other syntax (rare) is looked up later by SnapshotOfTreeAsync.
        var asked = new ConcurrentQueue<(string Id, string Path)>();
        var askedKeys = new HashSet<string>(StringComparer.Ordinal);
        var scanned = new Dictionary<string, HclFacts>(StringComparer.Ordinal); // written by the reading thread only

        var files = await mirror.ListTreeWithBlobsAsync(
            repo, sha, IsConfigurationUtf8,
            file =>
            {
                var key = ConfigurationFiles.FactsKey(file.Path, file.BlobId);
                if (_facts.ContainsKey(key) || !askedKeys.Add(key))
                {
                    return false;
                }
                asked.Enqueue((file.BlobId, file.Path)); // before cat-file is asked, so before the answer
                return true;
            },
            (id, content) =>
            {
                // Files cat-file was not asked for (their blob was asked for under another path) are skipped.
                while (asked.TryDequeue(out var file))
                {
                    if (System.Text.Ascii.Equals(id, file.Id))
                    {
                        var key = ConfigurationFiles.FactsKey(file.Path, file.Id);
                        _facts[key] = scanned[key] = ConfigurationFiles.Scan(file.Path, Encoding.UTF8.GetString(content));
                        return;
                    }
                }
            },
            ct);

        var tree = CommitFiles.Of(files, () => AllFiles(repo, sha));
        for (var i = 0; i < tree.Paths.Length; i++)
        {
            // Facts just scanned are kept with the tree: a cache cleared meanwhile cannot lose them.
            tree.Facts[i] = scanned.GetValueOrDefault(ConfigurationFiles.FactsKey(tree.Paths[i], tree.Ids[i]));
        }
        SaveScanned(repo, scanned);
        Persist(repo, disk => disk.SaveFiles(sha, tree.Pairs()));
        Remember(_trees, (repo.FullName, sha), tree, MaxCachedTrees);
        return tree;
    }

    /// <summary>
    /// The same test as <see cref="ConfigurationFiles.IsConfiguration"/> on a raw UTF-8 path (the suffixes are ASCII),
    /// so the listing decodes configuration paths only.
    /// </summary>
    internal static bool IsConfigurationUtf8(ReadOnlySpan<byte> path) =>
        path.EndsWith(".tf"u8) || path.EndsWith(".tofu"u8) || path.EndsWith(".tf.json"u8) || path.EndsWith(".tofu.json"u8);

    /// <summary>Every file of the commit (path → blob id), listed again: only for the rare snapshot that needs it.</summary>
    private Dictionary<string, string> AllFiles(RepoRef repo, string sha) =>
        // Synchronous by necessity (snapshot building is), rare, and never on a thread with a synchronisation context.
        mirror.ListTreeAsync(repo, sha, CancellationToken.None).GetAwaiter().GetResult()
            .ToDictionary(f => f.Path, f => f.BlobId, StringComparer.Ordinal);

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
