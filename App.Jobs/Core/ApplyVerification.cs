using Ensemble.Jobs.State;

namespace Ensemble.Jobs.Core;

/// <summary>Whether an approved plan may be applied: yes, or a reason a person can read. Never an exception.</summary>
public abstract record ApplyVerdict
{
    private ApplyVerdict() { }

    public sealed record Ok : ApplyVerdict;

    public sealed record Refused(string Reason) : ApplyVerdict;

    public static readonly ApplyVerdict Accepted = new Ok();
}

/// <summary>
/// What the apply job found before applying, gathered from the artifact store and git.
/// </summary>
/// <param name="ProjectPath">The project, repo-relative.</param>
/// <param name="Destroy">The plan destroys a deleted project (planned from the base-branch copy).</param>
/// <param name="RecordedPlanSha256">The plan file's SHA-256 recorded when it was planned; null if none was.</param>
/// <param name="ApprovedPlanSha256">The plan file's SHA-256 in the approval audit of this run; null when no approval of it is recorded.</param>
/// <param name="DownloadedPlanSha256">The SHA-256 of the plan file as downloaded now; null when the artifact is missing.</param>
/// <param name="PlannedTrees">Git object id of every input path (the project, the local modules it uses, the files it reads:
/// <see cref="Discovery.ProjectInputSet.All"/>) at the planned commit.</param>
/// <param name="MergedTrees">The same paths' object ids in the merge commit; null for a path that does not exist there.</param>
public sealed record ApplyEvidence(
    string ProjectPath,
    bool Destroy,
    string? RecordedPlanSha256,
    string? ApprovedPlanSha256,
    string? DownloadedPlanSha256,
    IReadOnlyDictionary<string, string?> PlannedTrees,
    IReadOnlyDictionary<string, string?> MergedTrees)
{
    /// <summary>The inputs that are files read (not module directories), to name them right in a refusal.</summary>
    public IReadOnlyCollection<string> Files { get; init; } = [];
}

/// <summary>Whether a project's apply may start now, given the applies it depends on.</summary>
public abstract record DependencyGate
{
    private DependencyGate() { }

    public sealed record Ready : DependencyGate;

    /// <summary>Some dependencies are still approved or applying: their end starts this one.</summary>
    public sealed record Wait(IReadOnlyList<string> Pending) : DependencyGate;

    /// <summary>A dependency failed or cannot finish: this project is never applied from this plan.</summary>
    public sealed record Blocked(string Reason) : DependencyGate;
}

/// <summary>
/// The checks DESIGN.md requires before an apply ("Approval and apply rules"), as pure functions. The caller gathers
/// the facts; these decide. "At most once" is not decided here: the state store's compare-and-set does that.
/// </summary>
public static class ApplyVerification
{
    /// <summary>Ok when the artifact is the approved one and the merge changed none of the project's inputs.</summary>
    public static ApplyVerdict Verify(ApplyEvidence evidence)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        if (string.IsNullOrWhiteSpace(evidence.RecordedPlanSha256))
        {
            return new ApplyVerdict.Refused("no plan file hash was recorded when this project was planned, so the stored plan cannot be trusted");
        }

        if (evidence.ApprovedPlanSha256 is null)
        {
            return new ApplyVerdict.Refused("no approval of this plan is recorded");
        }

        if (!string.Equals(evidence.RecordedPlanSha256, evidence.ApprovedPlanSha256, StringComparison.OrdinalIgnoreCase))
        {
            return new ApplyVerdict.Refused("the plan was replaced after it was approved (its recorded hash differs from the approved one)");
        }

        if (evidence.DownloadedPlanSha256 is null)
        {
            return new ApplyVerdict.Refused("the approved plan file is missing from the artifact store");
        }

        if (!string.Equals(evidence.RecordedPlanSha256, evidence.DownloadedPlanSha256, StringComparison.OrdinalIgnoreCase))
        {
            return new ApplyVerdict.Refused(
                $"the stored plan file changed after it was approved (SHA-256 {Short(evidence.DownloadedPlanSha256)}, approved {Short(evidence.RecordedPlanSha256)})");
        }

        if (evidence.Destroy)
        {
            // A destroy plan was made from the base copy of a deleted project: it is valid while the merge keeps it deleted.
            return evidence.MergedTrees.GetValueOrDefault(evidence.ProjectPath) is null
                ? ApplyVerdict.Accepted
                : new ApplyVerdict.Refused($"the project `{evidence.ProjectPath}` was deleted in the pull request but exists again in the merge commit");
        }

        if (evidence.PlannedTrees.Count == 0 || !evidence.PlannedTrees.ContainsKey(evidence.ProjectPath))
        {
            throw new ArgumentException("The planned trees must include the project directory itself.", nameof(evidence));
        }

        var changed = evidence.PlannedTrees
            .Where(p => !string.Equals(p.Value, evidence.MergedTrees.GetValueOrDefault(p.Key), StringComparison.Ordinal))
            .Select(p => p.Key)
            .Order(StringComparer.Ordinal)
            .ToList();
        if (changed.Count == 0)
        {
            return ApplyVerdict.Accepted;
        }

        var what = string.Join(", ", changed.Select(p => Discovery.ProjectInputSet.Describe(p, evidence.ProjectPath, evidence.Files)));
        return new ApplyVerdict.Refused(
            $"the merge commit differs from the planned commit in {what}: the default branch changed them after the plan, so the approved plan is not what was merged");
    }

    /// <summary>
    /// Decides whether <paramref name="project"/> may be applied now. <paramref name="dependsOn"/> maps a project to the
    /// projects it declares it depends on; only projects of this merge (keys of <paramref name="statuses"/>) count, so a
    /// dependency the merge does not touch never holds anything up.
    /// </summary>
    public static DependencyGate Gate(
        string project, IReadOnlyDictionary<string, IReadOnlyList<string>> dependsOn, IReadOnlyDictionary<string, RunStatus> statuses)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(dependsOn);
        ArgumentNullException.ThrowIfNull(statuses);
        if (Cycle(project, dependsOn, statuses) is { } cycle)
        {
            return new DependencyGate.Blocked($"its declared dependencies form a cycle ({string.Join(" → ", cycle)})");
        }

        var pending = new List<string>();
        foreach (var dependency in (dependsOn.GetValueOrDefault(project) ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (dependency == project || !statuses.TryGetValue(dependency, out var status))
            {
                continue;
            }

            switch (status)
            {
                case RunStatus.Applied or RunStatus.NoChanges:
                    break;
                case RunStatus.Approved or RunStatus.Applying:
                    pending.Add(dependency);
                    break;
                case RunStatus.ApplyFailed:
                    return new DependencyGate.Blocked($"it depends on `{dependency}`, whose apply failed");
                default:
                    return new DependencyGate.Blocked($"it depends on `{dependency}`, which was merged without an approved plan ({status.ToDb()})");
            }
        }

        return pending.Count == 0 ? new DependencyGate.Ready() : new DependencyGate.Wait(pending);
    }

    /// <summary>A dependency cycle through <paramref name="start"/> among the merge's projects, as a path, or null.</summary>
    private static List<string>? Cycle(string start, IReadOnlyDictionary<string, IReadOnlyList<string>> dependsOn, IReadOnlyDictionary<string, RunStatus> statuses)
    {
        var path = new List<string> { start };
        var visited = new HashSet<string>(StringComparer.Ordinal);
        return Walk(start) ? path : null;

        bool Walk(string node)
        {
            foreach (var next in dependsOn.GetValueOrDefault(node) ?? [])
            {
                if (!statuses.ContainsKey(next) || next == node)
                {
                    continue;
                }

                path.Add(next);
                if (next == start || (visited.Add(next) && Walk(next)))
                {
                    return true;
                }
                path.RemoveAt(path.Count - 1);
            }
            return false;
        }
    }

    private static string Short(string sha256) => sha256.Length > 12 ? sha256[..12] : sha256;
}
