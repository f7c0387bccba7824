using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;

namespace Ensemble.Jobs.Config;

/// <summary>A project that discovery found but the configuration keeps from planning automatically, and why.</summary>
public sealed record SkippedProject(string Path, string Reason);

/// <summary>
/// What to plan after applying <c>.ensemble.yml</c>: projects (sorted by path) with reasons, projects skipped with
/// a reason, problems worth showing (discovery's and the configuration's), and <see cref="Errors"/>: when there
/// are any, the file is invalid and nothing is planned; show them on the aggregate.
/// </summary>
public sealed record ConfiguredResult(
    IReadOnlyList<AffectedProject> Projects,
    IReadOnlyList<SkippedProject> Skipped,
    IReadOnlyList<string> Problems,
    IReadOnlyList<string> Errors);

/// <summary>Project discovery with the repository's configuration applied. Pure: snapshots and changes in, records out.</summary>
public static class ConfiguredDiscovery
{
    private const int MaxReasonsPerProject = 10;

    /// <summary>
    /// Repo-wide ignore globs drop changes before discovery; a project's ignore globs drop changes for that project
    /// only; when_modified globs add projects (reason "… matched when_modified glob X"); autoplan: false moves a
    /// project to <see cref="ConfiguredResult.Skipped"/> unless it is in <paramref name="forced"/> (e.g. named in a
    /// replan comment). Destroys are never dropped by globs: a removed project is planned as destroy.
    /// </summary>
    public static ConfiguredResult Apply(
        EffectiveConfig config,
        RepoSnapshot head,
        RepoSnapshot? baseSnapshot,
        IReadOnlyList<ChangedFile> changes,
        IReadOnlyCollection<string>? forced = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(changes);
        if (!config.IsValid)
        {
            return new ConfiguredResult([], [], [], config.Errors);
        }

        var kept = changes.Where(c => !AllIgnored(c, config.Ignore)).ToList();
        var discovered = ProjectDiscovery.Affected(head, baseSnapshot, kept);
        var projects = new SortedDictionary<string, AffectedProject>(StringComparer.Ordinal);
        foreach (var project in discovered.Projects)
        {
            projects[project.Path] = project;
        }

        var skipped = new List<SkippedProject>();
        foreach (var entry in config.Projects)
        {
            if (entry.Ignore.Count > 0 && projects.TryGetValue(entry.Path, out var found) && !found.Destroy)
            {
                // Re-running discovery without the ignored changes keeps its reasons and module chains exact.
                var own = kept.Where(c => !AllIgnored(c, entry.Ignore)).ToList();
                var again = ProjectDiscovery.Affected(head, baseSnapshot, own).Projects.FirstOrDefault(p => p.Path == entry.Path);
                if (again is null)
                {
                    projects.Remove(entry.Path);
                    skipped.Add(new SkippedProject(entry.Path,
                        $"every change to it matches its ignore globs ({string.Join(", ", entry.Ignore)})"));
                }
                else
                {
                    projects[entry.Path] = again;
                }
            }

            if (entry.WhenModified.Count > 0 && head.FindProject(entry.Path) is not null)
            {
                var reasons = new List<string>();
                foreach (var change in kept)
                {
                    if (AllIgnored(change, entry.Ignore))
                    {
                        continue;
                    }

                    var glob = entry.WhenModified.FirstOrDefault(g => g.IsMatch(change.Path) || (change.OldPath is { } old && g.IsMatch(old)));
                    if (glob is not null)
                    {
                        reasons.Add($"{change.Path} matched when_modified glob {glob.Pattern}");
                    }
                }

                if (reasons.Count > 0)
                {
                    // A when_modified match is a change the project's ignore globs let through: plan it after all.
                    skipped.RemoveAll(s => s.Path == entry.Path);
                    projects[entry.Path] = projects.TryGetValue(entry.Path, out var existing)
                        ? existing with { Reasons = Capped([.. existing.Reasons, .. reasons]) }
                        : new AffectedProject(entry.Path, false, Capped(reasons));
                }
            }
        }

        foreach (var entry in config.Projects)
        {
            if (!entry.Autoplan && projects.ContainsKey(entry.Path) && !(forced?.Contains(entry.Path) ?? false))
            {
                projects.Remove(entry.Path);
                skipped.Add(new SkippedProject(entry.Path,
                    $"autoplan is false in .ensemble.yml (line {entry.Line}); comment `/ensemble replan {entry.Path}` to plan it"));
            }
        }

        skipped.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        var problems = new List<string>(discovered.Problems);
        problems.AddRange(ConfigProblems(config, head, baseSnapshot));
        return new ConfiguredResult([.. projects.Values], skipped, problems, []);
    }

    /// <summary>A change is ignored only when every path it touches is (a rename out of an ignored directory counts).</summary>
    private static bool AllIgnored(ChangedFile change, IReadOnlyList<Glob> ignore) =>
        ignore.Count > 0 && ignore.Any(g => g.IsMatch(change.Path)) && (change.OldPath is null || ignore.Any(g => g.IsMatch(change.OldPath)));

    private static List<string> Capped(List<string> reasons)
    {
        var distinct = reasons.Distinct(StringComparer.Ordinal).ToList();
        return distinct.Count <= MaxReasonsPerProject
            ? distinct
            : [.. distinct.Take(MaxReasonsPerProject), $"… and {distinct.Count - MaxReasonsPerProject} more"];
    }

    private static IEnumerable<string> ConfigProblems(EffectiveConfig config, RepoSnapshot head, RepoSnapshot? baseSnapshot)
    {
        bool Known(string path) => head.FindProject(path) is not null || baseSnapshot?.FindProject(path) is not null;

        foreach (var entry in config.Projects)
        {
            if (!Known(entry.Path))
            {
                yield return $".ensemble.yml line {entry.Line}: {entry.Path} is not a Terraform project (no backend or cloud block found in it); its settings are unused";
            }

            foreach (var dependency in entry.DependsOn.Where(d => !Known(d)))
            {
                yield return $".ensemble.yml line {entry.Line}: {entry.Path} depends_on {dependency}, which is not a Terraform project";
            }
        }

        if (DependencyCycle(config.Projects) is { } cycle)
        {
            yield return $".ensemble.yml: depends_on forms a cycle ({string.Join(" → ", cycle)}); no apply order satisfies it";
        }
    }

    private static List<string>? DependencyCycle(IReadOnlyList<ProjectConfig> projects)
    {
        var edges = projects.ToDictionary(p => p.Path, p => p.DependsOn, StringComparer.Ordinal);
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false: on the stack, true: done
        var stack = new List<string>();

        List<string>? Visit(string node)
        {
            if (state.TryGetValue(node, out var done))
            {
                return done ? null : [.. stack.Skip(stack.IndexOf(node)), node];
            }

            state[node] = false;
            stack.Add(node);
            foreach (var next in edges.GetValueOrDefault(node) ?? [])
            {
                if (Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }

            stack.RemoveAt(stack.Count - 1);
            state[node] = true;
            return null;
        }

        foreach (var project in projects)
        {
            if (Visit(project.Path) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }
}
