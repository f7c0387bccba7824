using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.Discovery;

/// <summary>A project to plan for a change, and why. Destroy: it exists at the base but no longer at the head.</summary>
public sealed record AffectedProject(string Path, bool Destroy, IReadOnlyList<string> Reasons);

/// <summary>Affected projects sorted by path, and the problems that concern them or the changed files.</summary>
public sealed record DiscoveryResult(IReadOnlyList<AffectedProject> Projects, IReadOnlyList<string> Problems);

/// <summary>Which projects a change between two commits affects.</summary>
public static class ProjectDiscovery
{
    // A shared module can touch thousands of files in one PR; the check run needs examples, not all of them.
    internal const int MaxReasonsPerProject = 10;

    /// <summary>
    /// A changed path marks the deepest project containing it, and, when it lies in a local module, every project
    /// using that module transitively; a file read by file()/templatefile() marks its readers the same way.
    /// Renames mark both sides; deleted and old paths are also looked up in the base commit. A project of the
    /// base that is gone from the head is affected with Destroy.
    /// </summary>
    public static DiscoveryResult Affected(RepoSnapshot head, RepoSnapshot? baseSnapshot, IReadOnlyList<ChangedFile> changes)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(changes);

        var marks = new Marks();
        var headConsumers = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        var baseConsumers = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        var changedDirectories = new HashSet<string>(StringComparer.Ordinal);

        foreach (var change in changes)
        {
            RepoPaths.RequireRepoRelative(change.Path, nameof(changes));
            if (change.OldPath is not null)
            {
                RepoPaths.RequireRepoRelative(change.OldPath, nameof(changes));
            }
            var isRename = change.Kind == ChangeKind.Renamed && change.OldPath is not null;
            var description = change.Kind switch
            {
                ChangeKind.Added => $"{change.Path} added",
                ChangeKind.Deleted => $"{change.Path} deleted",
                ChangeKind.Renamed when isRename => $"{change.OldPath} renamed to {change.Path}",
                ChangeKind.TypeChanged => $"{change.Path} changed type",
                _ => $"{change.Path} changed",
            };
            changedDirectories.Add(RepoPaths.DirectoryOf(change.Path));
            Mark(head, change.Path, description, marks, headConsumers, onlyIn: null);
            if (change.Kind == ChangeKind.Deleted && baseSnapshot is not null)
            {
                Mark(baseSnapshot, change.Path, description, marks, baseConsumers, onlyIn: head);
            }
            if (isRename)
            {
                changedDirectories.Add(RepoPaths.DirectoryOf(change.OldPath!));
                Mark(head, change.OldPath!, description, marks, headConsumers, onlyIn: null);
                if (baseSnapshot is not null)
                {
                    Mark(baseSnapshot, change.OldPath!, description, marks, baseConsumers, onlyIn: head);
                }
            }
        }

        var destroyed = new HashSet<string>(StringComparer.Ordinal);
        if (baseSnapshot is not null)
        {
            foreach (var project in baseSnapshot.Projects)
            {
                if (head.FindProject(project.Path) is not null)
                {
                    continue;
                }
                destroyed.Add(project.Path);
                var why = head.HasTerraformFiles(project.Path)
                    ? $"{project.Path} no longer declares a backend: planned as destroy"
                    : $"{project.Path} was removed: planned as destroy";
                marks.Add(project.Path, why);
            }
        }

        var projects = new List<AffectedProject>(marks.Count);
        foreach (var (path, reasons) in marks.Sorted())
        {
            projects.Add(new AffectedProject(path, destroyed.Contains(path), reasons));
        }
        return new DiscoveryResult(projects, RelevantProblems(head, projects, destroyed, changedDirectories));
    }

    private static void Mark(
        RepoSnapshot snapshot,
        string path,
        string description,
        Marks marks,
        Dictionary<string, List<(string Project, string Chain)>> consumerCache,
        RepoSnapshot? onlyIn)
    {
        if (snapshot.OwningProject(path) is { } owner && Keep(owner.Path))
        {
            marks.Add(owner.Path, description);
        }
        if (snapshot.OwningUnit(path) is { } unit && snapshot.IsModule(unit))
        {
            MarkConsumers(unit, description);
        }
        foreach (var reader in snapshot.ReadersOf(path))
        {
            var readDescription = $"{description} (read by {reader})";
            if (snapshot.FindProject(reader) is not null && Keep(reader))
            {
                marks.Add(reader, readDescription);
            }
            if (snapshot.IsModule(reader))
            {
                MarkConsumers(reader, readDescription);
            }
        }

        void MarkConsumers(string module, string why)
        {
            if (!consumerCache.TryGetValue(module, out var consumers))
            {
                consumerCache[module] = consumers = snapshot.ConsumersOf(module);
            }
            foreach (var (project, chain) in consumers)
            {
                if (Keep(project))
                {
                    marks.Add(project, $"{why} ({chain})");
                }
            }
        }

        // Looking a path up in the base only adds projects that still exist; the rest are destroys.
        bool Keep(string project) => onlyIn is null || onlyIn.FindProject(project) is not null;
    }

    private static List<string> RelevantProblems(
        RepoSnapshot head,
        List<AffectedProject> projects,
        HashSet<string> destroyed,
        HashSet<string> changedDirectories)
    {
        // Report what concerns this change: an unrelated broken file elsewhere must not show on every PR.
        // The base's problems are history and are not repeated.
        var relevant = new HashSet<string>(changedDirectories, StringComparer.Ordinal);
        foreach (var project in projects)
        {
            if (destroyed.Contains(project.Path))
            {
                continue;
            }
            relevant.Add(project.Path);
            foreach (var module in head.ModulesUsedBy(project.Path))
            {
                relevant.Add(module);
            }
        }

        var result = new List<string>();
        foreach (var problem in head.Problems)
        {
            foreach (var directory in problem.Directories)
            {
                if (relevant.Contains(directory))
                {
                    result.Add(problem.Message);
                    break;
                }
            }
        }
        return result;
    }

    /// <summary>Reasons per project, first-come order, duplicates dropped, capped with a count of the rest.</summary>
    private sealed class Marks
    {
        private readonly Dictionary<string, (List<string> Reasons, HashSet<string> Seen, int Dropped)> _byProject =
            new(StringComparer.Ordinal);

        public int Count => _byProject.Count;

        public void Add(string project, string reason)
        {
            if (!_byProject.TryGetValue(project, out var entry))
            {
                entry = ([], new HashSet<string>(StringComparer.Ordinal), 0);
            }
            if (!entry.Seen.Add(reason))
            {
                return;
            }
            if (entry.Reasons.Count < MaxReasonsPerProject)
            {
                entry.Reasons.Add(reason);
            }
            else
            {
                entry.Dropped++;
            }
            _byProject[project] = entry;
        }

        public IEnumerable<(string Project, IReadOnlyList<string> Reasons)> Sorted()
        {
            var keys = new List<string>(_byProject.Keys);
            keys.Sort(StringComparer.Ordinal);
            foreach (var key in keys)
            {
                var (reasons, _, dropped) = _byProject[key];
                if (dropped > 0)
                {
                    reasons.Add($"… and {dropped} more");
                }
                yield return (key, reasons);
            }
        }
    }
}
