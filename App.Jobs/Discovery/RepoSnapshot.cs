namespace Ensemble.Jobs.Discovery;

/// <summary>A Terraform root: a directory whose .tf files declare a backend or a cloud block.</summary>
public sealed record Project(string Path, string BackendType);

/// <summary>A problem found while building the graph, with the directories it concerns (to report it where it matters).</summary>
public sealed record SnapshotProblem(string Message, IReadOnlyList<string> Directories);

/// <summary>
/// The projects and module graph of one commit, built from the facts of its .tf files and the list of all its
/// paths. Building is O(files + edges); it does no I/O, so facts may come from a cache keyed by blob id.
/// </summary>
public sealed class RepoSnapshot
{
    private static readonly string[] Empty = [];

    private readonly Dictionary<string, Project> _projects;
    private readonly HashSet<string> _moduleDirectories;
    private readonly HashSet<string> _terraformDirectories;
    private readonly Dictionary<string, string[]> _uses;
    private readonly Dictionary<string, string[]> _usedBy;
    private readonly Dictionary<string, List<string>> _readers;

    private RepoSnapshot(
        Dictionary<string, Project> projects,
        HashSet<string> moduleDirectories,
        HashSet<string> terraformDirectories,
        Dictionary<string, string[]> uses,
        Dictionary<string, string[]> usedBy,
        Dictionary<string, List<string>> readers,
        List<SnapshotProblem> problems)
    {
        _projects = projects;
        _moduleDirectories = moduleDirectories;
        _terraformDirectories = terraformDirectories;
        _uses = uses;
        _usedBy = usedBy;
        _readers = readers;
        Problems = problems;
        var list = new List<Project>(projects.Values);
        list.Sort(static (a, b) => string.CompareOrdinal(a.Path, b.Path));
        Projects = list;
    }

    /// <summary>Every project, sorted by path.</summary>
    public IReadOnlyList<Project> Projects { get; }

    /// <summary>Scan problems of every file, duplicate backends, missing module directories, module cycles.</summary>
    public IReadOnlyList<SnapshotProblem> Problems { get; }

    public Project? FindProject(string path) => _projects.GetValueOrDefault(path);

    /// <summary>True when the directory holds at least one .tf file.</summary>
    public bool HasTerraformFiles(string directory) => _terraformDirectories.Contains(directory);

    /// <summary>True when some directory calls this one as a local module.</summary>
    public bool IsModule(string directory) => _moduleDirectories.Contains(directory);

    /// <summary>The local modules a directory calls directly, sorted.</summary>
    public IReadOnlyList<string> DirectModules(string directory) => _uses.GetValueOrDefault(directory) ?? Empty;

    /// <summary>Every local module a directory uses, directly or through other modules, sorted.</summary>
    public IReadOnlyList<string> ModulesUsedBy(string directory)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        queue.Enqueue(directory);
        while (queue.TryDequeue(out var current))
        {
            foreach (var module in DirectModules(current))
            {
                if (module != directory && seen.Add(module))
                {
                    queue.Enqueue(module);
                }
            }
        }
        var result = new List<string>(seen);
        result.Sort(StringComparer.Ordinal);
        return result;
    }

    /// <summary>
    /// The files that code in these directories reads by a plain relative path (<c>file()</c>, <c>templatefile()</c>,
    /// …), sorted; whether they exist is not checked.
    /// </summary>
    public IReadOnlyList<string> FilesReadBy(IReadOnlyCollection<string> directories)
    {
        ArgumentNullException.ThrowIfNull(directories);
        var wanted = directories as IReadOnlySet<string> ?? new HashSet<string>(directories, StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var (path, readers) in _readers)
        {
            if (readers.Exists(wanted.Contains))
            {
                result.Add(path);
            }
        }
        result.Sort(StringComparer.Ordinal);
        return result;
    }

    /// <summary>The deepest project directory containing the path (a file belongs to its nearest project).</summary>
    public Project? OwningProject(string path)
    {
        var lookup = _projects.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var directory in Ancestors(path))
        {
            if (lookup.TryGetValue(directory, out var project))
            {
                return project;
            }
        }
        return null;
    }

    /// <summary>The deepest directory containing the path that is a project or a local module.</summary>
    internal string? OwningUnit(string path)
    {
        var projects = _projects.GetAlternateLookup<ReadOnlySpan<char>>();
        var modules = _moduleDirectories.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var directory in Ancestors(path))
        {
            if (projects.TryGetValue(directory, out var project))
            {
                return project.Path;
            }
            if (modules.TryGetValue(directory, out var module))
            {
                return module;
            }
        }
        return null;
    }

    /// <summary>Directories (project or module) that read this file through file(), templatefile(), ….</summary>
    internal IReadOnlyList<string> ReadersOf(string path) => _readers.GetValueOrDefault(path) ?? (IReadOnlyList<string>)Empty;

    /// <summary>
    /// Projects that use the module directly or transitively, each with the shortest chain
    /// "project → module → … → this module". Cycles terminate: each directory is visited once.
    /// </summary>
    internal List<(string Project, string Chain)> ConsumersOf(string module, bool withChains = true)
    {
        var parent = new Dictionary<string, string>(StringComparer.Ordinal) { [module] = "" };
        var queue = new Queue<string>();
        queue.Enqueue(module);
        var result = new List<(string, string)>();
        while (queue.TryDequeue(out var current))
        {
            if (!_usedBy.TryGetValue(current, out var callers))
            {
                continue;
            }
            foreach (var caller in callers)
            {
                if (!parent.TryAdd(caller, current))
                {
                    continue;
                }
                queue.Enqueue(caller);
                if (_projects.ContainsKey(caller))
                {
                    result.Add((caller, withChains ? Chain(caller, parent) : ""));
                }
            }
        }
        return result;
    }

    private static string Chain(string from, Dictionary<string, string> parent)
    {
        var builder = new System.Text.StringBuilder(from);
        var current = parent[from];
        while (current.Length > 0)
        {
            builder.Append(" → ").Append(current);
            current = parent[current];
        }
        return builder.ToString();
    }

    private static AncestorEnumerable Ancestors(string path) => new(path);

    /// <summary>Allocation-free walk over a file's directories, deepest first, ending with ".".</summary>
    private readonly ref struct AncestorEnumerable(string path)
    {
        public AncestorEnumerator GetEnumerator() => new(path);
    }

    private ref struct AncestorEnumerator(string path)
    {
        private int _end = path.Length;
        private bool _rootDone;

        public ReadOnlySpan<char> Current { get; private set; }

        public bool MoveNext()
        {
            if (_rootDone)
            {
                return false;
            }
            var slash = _end <= 0 ? -1 : path.LastIndexOf('/', _end - 1);
            if (slash <= 0)
            {
                Current = RepoPaths.Root;
                _rootDone = true;
                return true;
            }
            Current = path.AsSpan(0, slash);
            _end = slash;
            return true;
        }
    }

    public static RepoSnapshot Build(IReadOnlyDictionary<string, HclFacts> terraformFiles, IReadOnlyList<string> allPaths)
    {
        ArgumentNullException.ThrowIfNull(allPaths);
        foreach (var path in allPaths)
        {
            RepoPaths.RequireRepoRelative(path, nameof(allPaths));
        }
        return BuildFromRepoPaths(terraformFiles, allPaths);
    }

    /// <summary>
    /// As <see cref="Build(IReadOnlyDictionary{string, HclFacts}, IReadOnlyList{string})"/> with paths known to be
    /// repo-relative (from git); they are enumerated only if a module call names a directory without .tf files, to
    /// tell "has no .tf files" from "does not exist", so a caller holding them in any collection pays nothing.
    /// </summary>
    internal static RepoSnapshot BuildFromRepoPaths(IReadOnlyDictionary<string, HclFacts> terraformFiles, IEnumerable<string> allPaths)
    {
        ArgumentNullException.ThrowIfNull(terraformFiles);
        ArgumentNullException.ThrowIfNull(allPaths);

        var files = terraformFiles.Keys.ToArray();
        Array.Sort(files, StringComparer.Ordinal); // deterministic: first backend wins, problems in path order
        var facts = new HclFacts[files.Length];
        for (var i = 0; i < files.Length; i++)
        {
            RepoPaths.RequireRepoRelative(files[i], nameof(terraformFiles));
            facts[i] = terraformFiles[files[i]];
        }
        return BuildSorted(files, facts, allPaths);
    }

    /// <summary>
    /// The build itself, from configuration files sorted by path (ordinal) with their facts at the same index, as
    /// <see cref="Jobs.ProjectFinder"/> keeps them: no dictionary, no sort, no per-file validation, so a head
    /// derived from its merge base costs one pass over its files.
    /// </summary>
    internal static RepoSnapshot BuildSorted(string[] files, HclFacts[] facts, IEnumerable<string> allPaths)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(allPaths);
        if (files.Length != facts.Length)
        {
            throw new ArgumentException("One facts per file.", nameof(facts));
        }
        if (Array.Exists(files, static f => f.EndsWith(".tofu", StringComparison.Ordinal) || f.EndsWith(".tofu.json", StringComparison.Ordinal)))
        {
            // OpenTofu loads x.tofu instead of x.tf (and x.tofu.json instead of x.tf.json) in the same directory.
            var sorted = files;
            var kept = Enumerable.Range(0, files.Length)
                .Where(i => !ConfigurationFiles.IsShadowed(sorted[i], f => Array.BinarySearch(sorted, f, StringComparer.Ordinal) >= 0))
                .ToList();
            var keptFacts = facts;
            files = [.. kept.Select(i => sorted[i])];
            facts = [.. kept.Select(i => keptFacts[i])];
        }

        var problems = new List<SnapshotProblem>();
        var terraformDirectories = new HashSet<string>(StringComparer.Ordinal);
        var projects = new Dictionary<string, Project>(StringComparer.Ordinal);
        var backendFiles = new Dictionary<string, string>(StringComparer.Ordinal);
        var directoryLookup = terraformDirectories.GetAlternateLookup<ReadOnlySpan<char>>();
        // One string per directory, shared by its files and by every module call that names it.
        var directories = new string[files.Length];
        var previous = "";

        for (var i = 0; i < files.Length; i++)
        {
            var file = files[i];
            var slash = file.LastIndexOf('/');
            var name = slash < 0 ? RepoPaths.Root : file.AsSpan(0, slash);
            // Sorted files of one directory mostly come together: compare before hashing.
            if (!name.SequenceEqual(previous) && !directoryLookup.TryGetValue(name, out previous!))
            {
                previous = name.ToString();
                terraformDirectories.Add(previous);
            }
            var directory = directories[i] = previous;
            var fileFacts = facts[i];
            foreach (var problem in fileFacts.Problems)
            {
                problems.Add(new SnapshotProblem($"{file}:{problem.Line}: {problem.Message}", [directory]));
            }
            if (fileFacts.Backend is not { } backend)
            {
                continue;
            }
            if (backendFiles.TryGetValue(directory, out var first))
            {
                problems.Add(new SnapshotProblem(
                    $"{file}:{backend.Line}: duplicate backend configuration in {directory} (first in {first})", [directory]));
                continue;
            }
            backendFiles[directory] = file;
            projects[directory] = new Project(directory, backend.Type);
        }

        HashSet<string>? allDirectories = null;
        var uses = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var readers = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var projectRelativeReads = new List<(string Directory, string Path)>();
        var readerLookup = readers.GetAlternateLookup<ReadOnlySpan<char>>();
        var buffer = new char[1024];

        for (var i = 0; i < files.Length; i++)
        {
            var file = files[i];
            var directory = directories[i];
            foreach (var call in facts[i].Modules)
            {
                if (!call.IsLocal)
                {
                    continue; // registry, git, … sources are versioned elsewhere: recorded, not followed
                }
                EnsureCapacity(ref buffer, directory.Length + call.Source.Length + 1);
                var inside = RepoPaths.TryCombine(directory, call.Source, buffer, out var length);
                ReadOnlySpan<char> combined = length == 0 ? RepoPaths.Root : buffer.AsSpan(0, length);
                if (!inside)
                {
                    problems.Add(new SnapshotProblem($"{Where(file, call)} points outside the repository", [directory]));
                    continue;
                }
                if (!directoryLookup.TryGetValue(combined, out var target))
                {
                    var missing = combined.ToString();
                    var why = (allDirectories ??= DirectoriesOf(allPaths)).Contains(missing) ? "has no .tf files" : "does not exist";
                    problems.Add(new SnapshotProblem($"{Where(file, call)}: module directory {missing} {why}", [directory]));
                    continue;
                }
                if (!uses.TryGetValue(directory, out var targets))
                {
                    uses[directory] = targets = [];
                }
                targets.Add(target);
            }
            foreach (var read in facts[i].ReadFiles)
            {
                if (read.Base == ReadBase.ProjectDirectory && !projects.ContainsKey(directory))
                {
                    projectRelativeReads.Add((directory, read.Path)); // resolved per consuming project below
                    continue;
                }
                EnsureCapacity(ref buffer, directory.Length + read.Path.Length + 1);
                if (!RepoPaths.TryCombine(directory, read.Path, buffer, out var length))
                {
                    continue;
                }
                ReadOnlySpan<char> path = length == 0 ? RepoPaths.Root : buffer.AsSpan(0, length);
                if (readerLookup.TryGetValue(path, out var list))
                {
                    if (!list.Contains(directory))
                    {
                        list.Add(directory);
                    }
                }
                else
                {
                    readerLookup[path] = [directory];
                }
            }
        }

        var usesArrays = new Dictionary<string, string[]>(uses.Count, StringComparer.Ordinal);
        var usedBy = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var moduleDirectories = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (caller, targets) in uses)
        {
            targets.Sort(StringComparer.Ordinal);
            var distinct = Distinct(targets);
            usesArrays[caller] = distinct;
            foreach (var target in distinct)
            {
                moduleDirectories.Add(target);
                if (!usedBy.TryGetValue(target, out var callers))
                {
                    usedBy[target] = callers = [];
                }
                callers.Add(caller);
            }
        }
        var usedByArrays = new Dictionary<string, string[]>(usedBy.Count, StringComparer.Ordinal);
        foreach (var (target, callers) in usedBy)
        {
            callers.Sort(StringComparer.Ordinal);
            usedByArrays[target] = [.. callers];
        }

        ReportCycles(usesArrays, problems);

        var snapshot = new RepoSnapshot(projects, moduleDirectories, terraformDirectories, usesArrays, usedByArrays, readers, problems);
        foreach (var (directory, path) in projectRelativeReads)
        {
            // A bare relative path in a module is relative to the working directory: the project using it.
            foreach (var (project, _) in snapshot.ConsumersOf(directory, withChains: false))
            {
                AddReader(readers, RepoPaths.Combine(project, path), project);
            }
        }
        return snapshot;
    }

    private static string Where(string file, ModuleCall call) => $"{file}:{call.Line}: module '{call.Name}' source \"{call.Source}\"";

    private static void EnsureCapacity(ref char[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new char[Math.Max(length, buffer.Length * 2)];
        }
    }

    private static void AddReader(Dictionary<string, List<string>> readers, string? path, string reader)
    {
        if (path is null)
        {
            return;
        }
        if (!readers.TryGetValue(path, out var list))
        {
            readers[path] = list = [];
        }
        if (!list.Contains(reader))
        {
            list.Add(reader);
        }
    }

    private static string[] Distinct(List<string> sorted)
    {
        var result = new List<string>(sorted.Count);
        foreach (var item in sorted)
        {
            if (result.Count == 0 || result[^1] != item)
            {
                result.Add(item);
            }
        }
        return [.. result];
    }

    private static HashSet<string> DirectoriesOf(IEnumerable<string> paths)
    {
        var directories = new HashSet<string>(StringComparer.Ordinal) { RepoPaths.Root };
        var lookup = directories.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var path in paths)
        {
            // Stop at the first known ancestor: every directory is added (and allocated) once, so this is O(paths).
            foreach (var directory in Ancestors(path))
            {
                if (!lookup.Add(directory))
                {
                    break;
                }
            }
        }
        return directories;
    }

    /// <summary>Iterative depth-first search; each back edge is one cycle, reported with its chain.</summary>
    private static void ReportCycles(Dictionary<string, string[]> uses, List<SnapshotProblem> problems)
    {
        var roots = new List<string>(uses.Keys);
        roots.Sort(StringComparer.Ordinal);
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false = on the stack, true = done
        var stack = new List<(string Node, int Next)>();
        foreach (var root in roots)
        {
            if (state.ContainsKey(root))
            {
                continue;
            }
            state[root] = false;
            stack.Add((root, 0));
            while (stack.Count > 0)
            {
                var (node, next) = stack[^1];
                var targets = uses.GetValueOrDefault(node) ?? Empty;
                if (next >= targets.Length)
                {
                    state[node] = true;
                    stack.RemoveAt(stack.Count - 1);
                    continue;
                }
                stack[^1] = (node, next + 1);
                var target = targets[next];
                if (!state.TryGetValue(target, out var done))
                {
                    state[target] = false;
                    stack.Add((target, 0));
                }
                else if (!done)
                {
                    var start = stack.FindIndex(entry => entry.Node == target);
                    var members = new List<string>();
                    for (var i = start; i < stack.Count; i++)
                    {
                        members.Add(stack[i].Node);
                    }
                    problems.Add(new SnapshotProblem($"module cycle: {string.Join(" → ", members)} → {target}", members));
                }
            }
        }
    }
}
