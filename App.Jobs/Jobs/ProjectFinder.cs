using System.Collections.Concurrent;
using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;
using Ensemble.Jobs.Git;

namespace Ensemble.Jobs.Jobs;

/// <summary>
/// Builds discovery snapshots of commits from the git mirror. Scanned facts are cached by git blob id, so a new
/// commit re-scans only the .tf files it changed, and a snapshot of a base commit is reused across pull requests.
/// </summary>
public sealed class ProjectFinder(GitMirror mirror)
{
    private const int MaxCachedFacts = 200_000;
    private const int MaxCachedSnapshots = 64;

    private readonly ConcurrentDictionary<string, HclFacts> _facts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Repo, string Sha), RepoSnapshot> _snapshots = new();

    public async Task<RepoSnapshot> SnapshotAsync(RepoRef repo, string sha, CancellationToken ct)
    {
        if (_snapshots.TryGetValue((repo.FullName, sha), out var cached))
        {
            return cached;
        }

        var tree = await mirror.ListTreeAsync(repo, sha, ct);
        var tfFiles = tree.Where(f => f.Path.EndsWith(".tf", StringComparison.Ordinal)).ToList();
        var missing = tfFiles.Select(f => f.BlobId).Where(id => !_facts.ContainsKey(id)).Distinct(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            var blobs = await mirror.ReadBlobsAsync(repo, missing, ct);
            if (_facts.Count + blobs.Count > MaxCachedFacts)
            {
                _facts.Clear();
            }

            foreach (var (id, bytes) in blobs)
            {
                _facts[id] = HclScanner.Scan(Encoding.UTF8.GetString(bytes));
            }
        }

        var facts = new Dictionary<string, HclFacts>(tfFiles.Count, StringComparer.Ordinal);
        foreach (var file in tfFiles)
        {
            facts[file.Path] = _facts[file.BlobId];
        }

        var snapshot = RepoSnapshot.Build(facts, tree.Select(f => f.Path).ToList());
        if (_snapshots.Count >= MaxCachedSnapshots)
        {
            _snapshots.Clear();
        }
        _snapshots[(repo.FullName, sha)] = snapshot;
        return snapshot;
    }
}
