using System.Diagnostics;
using System.Globalization;
using System.Text;
using Ensemble.Bench.Discovery;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;
using Ensemble.Jobs.Git;
using Ensemble.Jobs.Jobs;
using Microsoft.Extensions.Logging.Abstractions;

// Discovery at monorepo scale against git's own floor. Usage:
//   dotnet run -c Release --project bench/discovery [-- --runs 5] [--keep] [--work DIR] [--stages | --codec | --gc]
var runs = args.SkipWhile(a => a != "--runs").Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault(5);
// --work DIR keeps the repository in DIR and reuses it on the next run (generation takes minutes on a loaded machine).
var reuseDir = args.SkipWhile(a => a != "--work").Skip(1).FirstOrDefault();
var keep = args.Contains("--keep") || reuseDir is not null;
var work = reuseDir is null ? Path.Combine(Path.GetTempPath(), $"ensemble-discovery-bench-{Environment.ProcessId}") : Path.GetFullPath(reuseDir);
var repo = new RepoRef(1, "acme", "monorepo");
var mirror = new GitMirror(new GitMirrorOptions(work, "file:///nonexistent/"), NullLogger<GitMirror>.Instance);
var gitDir = mirror.MirrorPath(repo);
// The disk cache is written in the background: awaited outside the measured runs, before the cache is deleted.
var lastFlush = Task.CompletedTask;

var generation = Stopwatch.StartNew();
var (baseSha, headSha, fileCount, changed) = File.Exists(Path.Combine(gitDir, "HEAD"))
    ? MonorepoGenerator.Existing(gitDir)
    : MonorepoGenerator.Generate(gitDir);
try
{
    Console.WriteLine($"Generated {fileCount:N0} files ({MonorepoGenerator.Projects:N0} projects, {MonorepoGenerator.Modules:N0} modules), " +
                      $"second commit changes {changed:N0} files, in {generation.Elapsed.TotalSeconds:F1} s at {gitDir}");
    GC.Collect();

    if (args.Contains("--codec"))
    {
        // The disk cache's cost alone: encoding and decoding the merge base's facts and configuration files.
        var tree = await mirror.ListTreeAsync(repo, baseSha, CancellationToken.None);
        var tf = tree.Where(f => ConfigurationFiles.IsConfiguration(f.Path)).ToList();
        var blobs = await mirror.ReadBlobsAsync(repo, tf.Select(f => f.BlobId).ToHashSet(), CancellationToken.None);
        var facts = blobs.ToDictionary(b => b.Key, b => HclScanner.Scan(Encoding.UTF8.GetString(b.Value)));
        var pairs = tf.Select(f => new KeyValuePair<string, string>(f.Path, f.BlobId)).ToList();
        for (var i = 0; i < 20; i++)
        {
            var w = Stopwatch.StartNew();
            var encodedFacts = DiscoveryCacheCodec.EncodeFacts(facts, DiscoveryCacheCodec.CodeVersion);
            var encodeFacts = w.Elapsed.TotalMilliseconds;
            w.Restart();
            var encodedFiles = DiscoveryCacheCodec.EncodeFiles(baseSha, pairs, DiscoveryCacheCodec.CodeVersion);
            var encodeFiles = w.Elapsed.TotalMilliseconds;
            w.Restart();
            DiscoveryCacheCodec.DecodeFacts(encodedFacts, DiscoveryCacheCodec.CodeVersion);
            var decodeFacts = w.Elapsed.TotalMilliseconds;
            w.Restart();
            DiscoveryCacheCodec.DecodeFiles(encodedFiles, baseSha, DiscoveryCacheCodec.CodeVersion);
            Console.WriteLine($"  encode facts {encodeFacts:F0} ms, files {encodeFiles:F0} ms; decode facts {decodeFacts:F0} ms, files {w.Elapsed.TotalMilliseconds:F0} ms");
        }
        return;
    }

    if (args.Contains("--gc"))
    {
        // Allocation and garbage collection of truly cold runs (for iterating on allocations).
        for (var i = 0; i < 6; i++)
        {
            await lastFlush;
            DeleteDiskCache();
            GC.Collect();
            var (allocated, gen0, gen1, gen2, pause) = (GC.GetTotalAllocatedBytes(true), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());
            var w = Stopwatch.StartNew();
            await Cold();
            Console.WriteLine($"  {w.Elapsed.TotalMilliseconds:F0} ms, {(GC.GetTotalAllocatedBytes(true) - allocated) / 1e6:F1} MB allocated, " +
                $"GCs {GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2} (gen0/1/2 counts), pauses {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:F0} ms");
        }
        return;
    }

    if (args.Contains("--stages"))
    {
        // Stage breakdown only (three rounds, the last printed): for iterating on one stage.
        var tfIds = (await mirror.ListTreeAsync(repo, baseSha, CancellationToken.None))
            .Where(f => f.Path.EndsWith(".tf", StringComparison.Ordinal)).Select(f => f.BlobId).Distinct().ToList();
        var idBytes = Encoding.ASCII.GetBytes(string.Concat(tfIds.Select(id => id + "\n")));
        for (var i = 0; i < 5; i++)
        {
            var w = Stopwatch.StartNew();
            await Git.RunAsync(gitDir, ["cat-file", "--batch"], new MemoryStream(idBytes));
            var catMs = w.Elapsed.TotalMilliseconds;
            w.Restart();
            await mirror.ReadBlobsAsync(repo, tfIds, CancellationToken.None);
            Console.WriteLine($"  git cat-file --batch {catMs:F0} ms, ReadBlobsAsync {w.Elapsed.TotalMilliseconds:F0} ms");
        }

        for (var i = 0; i < 5; i++)
        {
            var w = Stopwatch.StartNew();
            await Git.RunAsync(gitDir, ["ls-tree", "-r", "-z", "--full-tree", baseSha]);
            var gitMs = w.Elapsed.TotalMilliseconds;
            w.Restart();
            await mirror.ListTreeAsync(repo, baseSha, CancellationToken.None);
            Console.WriteLine($"  git ls-tree {gitMs:F0} ms, ListTreeAsync {w.Elapsed.TotalMilliseconds:F0} ms");
        }
        await Stages();
        await Stages();
        foreach (var (stage, ms) in await Stages())
        {
            Console.WriteLine($"  {stage,-58} {ms,8:F0}");
        }
        return;
    }

    // Untimed rounds first: JIT (tiered compilation needs several calls), page cache and git's own caches warm for
    // every contestant alike. With one round only, whichever cold variant ran first measured ~40% slower.
    for (var i = 0; i < 3; i++)
    {
        await Floor();
        await lastFlush;
        DeleteDiskCache();
        await Cold();
    }

    var floor = await Measure.RepeatAsync("git ls-tree -r + git diff --name-only (floor)", runs, Floor);
    var memoryOnly = await Measure.RepeatAsync("Ensemble cold, disk cache off (diskCache: false: nothing written)", runs,
        async () => (await DiscoverAsync(new ProjectFinder(mirror, diskCache: false))).Projects.Count);
    var cold = await Measure.RepeatAsync("Ensemble cold (fresh ProjectFinder, no disk cache: base listed and read, head derived)", runs, Cold,
        async () =>
        {
            // The previous run's cache writes (in the background, off its measured path) end before the cache is deleted.
            await lastFlush;
            DeleteDiskCache();
        });
    // A merge base never seen, but 1,000 changed files away from a commit a previous process listed: the disk cache
    // holds the head commit's files and facts only (as if the default branch had moved from it), so the merge
    // base's files are derived from the head's plus one diff-tree, and only its 60 differing .tf blobs are read.
    var newBase = await Measure.RepeatAsync("Ensemble cold, new base (disk cache holds another commit 1,000 files away)", runs, Cold,
        async () =>
        {
            await lastFlush;
            DeleteDiskCache();
            var seen = new ProjectFinder(mirror);
            await seen.SnapshotAsync(repo, headSha, CancellationToken.None);
            await seen.FlushAsync();
        });
    await lastFlush;
    DeleteDiskCache();
    await Cold(); // leaves the disk cache of the merge base behind
    await lastFlush;
    var warmDisk = await Measure.RepeatAsync("Ensemble cold on a warm disk cache (fresh ProjectFinder, restarted worker)", runs, Cold);
    ProjectFinder? warmed = null;
    var incremental = await Measure.RepeatAsync("Ensemble incremental (base snapshot cached, blob facts warm)", runs,
        async () => (await DiscoverAsync(warmed!)).Projects.Count,
        async () => warmed = await WarmFinder());
    var stages = await Stages();

    Console.WriteLine();
    Console.WriteLine(Report.Table([floor, cold, memoryOnly, newBase, warmDisk, incremental]));
    Console.WriteLine();
    Console.WriteLine($"cold / floor: {cold.MedianMs / floor.MedianMs:F2}x (goal <= 1.5x: {(cold.MedianMs <= 1.5 * floor.MedianMs ? "pass" : "FAIL")})");
    Console.WriteLine($"cold, new base / floor: {newBase.MedianMs / floor.MedianMs:F2}x (goal <= 1.5x: {(newBase.MedianMs <= 1.5 * floor.MedianMs ? "pass" : "FAIL")})");
    Console.WriteLine($"cold on warm disk cache / floor: {warmDisk.MedianMs / floor.MedianMs:F2}x (goal <= 1.5x: {(warmDisk.MedianMs <= 1.5 * floor.MedianMs ? "pass" : "FAIL")})");
    Console.WriteLine($"incremental / floor: {incremental.MedianMs / floor.MedianMs:F2}x (goal <= 0.3x: {(incremental.MedianMs <= 0.3 * floor.MedianMs ? "pass" : "FAIL")})");
    Console.WriteLine();
    Console.WriteLine("Cold run by stage (one run, ms):");
    foreach (var (stage, ms) in stages)
    {
        Console.WriteLine($"  {stage,-58} {ms,8:F0}");
    }
}
finally
{
    if (!keep && Directory.Exists(work))
    {
        Directory.Delete(work, recursive: true);
    }
}

async Task<int> Floor()
{
    var tree = await Git.RunAsync(gitDir, ["ls-tree", "-r", "-z", "--full-tree", headSha]);
    var diff = await Git.RunAsync(gitDir, ["diff", "--name-only", "-z", baseSha, headSha]);
    return tree.Length + diff.Length;
}

void DeleteDiskCache()
{
    var cache = mirror.DiscoveryCachePath(repo);
    if (Directory.Exists(cache))
    {
        Directory.Delete(cache, recursive: true);
    }
}

async Task<int> Cold()
{
    var finder = new ProjectFinder(mirror);
    var result = await DiscoverAsync(finder);
    lastFlush = finder.FlushAsync();
    return result.Projects.Count;
}

// A finder that has served the base branch before: the merge base's snapshot is cached, its blobs' facts too.
async Task<ProjectFinder> WarmFinder()
{
    var finder = new ProjectFinder(mirror);
    await finder.SnapshotsAsync(repo, baseSha, baseSha, CancellationToken.None);
    return finder;
}

async Task<DiscoveryResult> DiscoverAsync(ProjectFinder finder)
{
    // What DiscoverJob does once the mirror is fetched.
    var mergeBase = await mirror.MergeBaseAsync(repo, baseSha, headSha, CancellationToken.None) ?? throw new InvalidOperationException("no merge base");
    // The merge base's tree is listed only when not cached; the head's is derived from it and one git diff-tree,
    // which also gives the changed files (DiffAsync is not needed).
    var snapshots = await finder.SnapshotsAsync(repo, mergeBase, headSha, CancellationToken.None);
    return ProjectDiscovery.Affected(snapshots.Head, snapshots.Base, snapshots.Changes);
}

async Task<List<(string, double)>> Stages()
{
    var stages = new List<(string, double)>();
    var watch = Stopwatch.StartNew();
    double Lap()
    {
        var ms = watch.Elapsed.TotalMilliseconds;
        watch.Restart();
        return ms;
    }

    var mergeBase = (await mirror.MergeBaseAsync(repo, baseSha, headSha, CancellationToken.None))!;
    stages.Add(("GitMirror.MergeBaseAsync", Lap()));
    var changes = await mirror.DiffAsync(repo, baseSha, headSha, CancellationToken.None);
    stages.Add(($"GitMirror.DiffAsync ({changes.Count} changes, renames on)", Lap()));
    var tree = await mirror.ListTreeAsync(repo, mergeBase, CancellationToken.None);
    stages.Add(($"GitMirror.ListTreeAsync merge base ({tree.Count:N0} files)", Lap()));
    var tf = tree.Where(f => f.Path.EndsWith(".tf", StringComparison.Ordinal)).ToList();
    var ids = tf.Select(f => f.BlobId).Distinct(StringComparer.Ordinal).ToList();
    stages.Add(("filter .tf + distinct blob ids", Lap()));
    var blobs = await mirror.ReadBlobsAsync(repo, ids, CancellationToken.None);
    stages.Add(($"GitMirror.ReadBlobsAsync ({ids.Count:N0} blobs, {blobs.Values.Sum(b => (long)b.Length) / 1024:N0} KiB)", Lap()));
    var facts = new Dictionary<string, HclFacts>(StringComparer.Ordinal);
    foreach (var (id, bytes) in blobs)
    {
        facts[id] = HclScanner.Scan(Encoding.UTF8.GetString(bytes));
    }

    stages.Add(($"UTF-8 decode + HclScanner.Scan ({blobs.Count:N0} files)", Lap()));
    var byPath = tf.ToDictionary(f => f.Path, f => facts[f.BlobId], StringComparer.Ordinal);
    var baseSnapshot = RepoSnapshot.Build(byPath, tree.Select(f => f.Path).ToList());
    stages.Add(("RepoSnapshot.Build merge base", Lap()));
    var raw = await mirror.DiffRawAsync(repo, mergeBase, headSha, CancellationToken.None);
    stages.Add(($"GitMirror.DiffRawAsync ({raw.Count:N0} changes)", Lap()));
    var headFiles = tree.ToDictionary(f => f.Path, f => f.BlobId, StringComparer.Ordinal);
    foreach (var change in raw)
    {
        if (change.IsFileAfter)
        {
            headFiles[change.Path] = change.NewId;
        }
        else
        {
            headFiles.Remove(change.Path);
        }
    }

    stages.Add(("head tree = base tree + raw diff", Lap()));
    var headMissing = raw.Where(c => c.IsFileAfter && c.Path.EndsWith(".tf", StringComparison.Ordinal) && !facts.ContainsKey(c.NewId))
        .Select(c => c.NewId).Distinct(StringComparer.Ordinal).ToList();
    foreach (var (id, bytes) in await mirror.ReadBlobsAsync(repo, headMissing, CancellationToken.None))
    {
        facts[id] = HclScanner.Scan(Encoding.UTF8.GetString(bytes));
    }

    stages.Add(($"read + scan the head's changed blobs ({headMissing.Count:N0})", Lap()));
    var headFacts = headFiles.Where(f => f.Key.EndsWith(".tf", StringComparison.Ordinal))
        .ToDictionary(f => f.Key, f => facts[f.Value], StringComparer.Ordinal);
    var headPaths = headFiles.Keys.ToList();
    Lap();
    var head = RepoSnapshot.Build(headFacts, headPaths);
    stages.Add(("RepoSnapshot.Build head", Lap()));
    if (args.Contains("--stages"))
    {
        // Steady state: the same build 20 times (tiered-up code; GC included), median.
        var times = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            RepoSnapshot.Build(headFacts, headPaths);
            times.Add(Lap());
        }
        times.Sort();
        stages.Add(("RepoSnapshot.Build head, median of 20 repeats", times[10]));
    }
    var result = ProjectDiscovery.Affected(head, baseSnapshot, changes);
    stages.Add(($"ProjectDiscovery.Affected ({result.Projects.Count:N0} projects)", Lap()));
    return stages;
}

