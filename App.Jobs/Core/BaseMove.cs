namespace Ensemble.Jobs.Core;

/// <summary>
/// Which plans of open pull requests a push to the default branch makes stale. Pure: the caller gathers the git object
/// ids of each plan's inputs (the project directory, every local module it uses and the files they read —
/// <see cref="Discovery.ProjectInputSet.All"/>, the set the apply's verification compares) at three commits; this decides.
/// </summary>
public static class BaseMove
{
    /// <summary>
    /// The input paths the push changed to something other than what was planned, sorted; empty when the plan still
    /// stands. A path counts only when it moved in the push (<paramref name="before"/> ≠ <paramref name="after"/>) and
    /// the new content is not the planned one — a push that brings exactly the planned content (this PR's own change
    /// landing, by squash or rebase) leaves the plan valid.
    /// </summary>
    /// <param name="planned">Object id of every input path at the planned commit (null: absent there). Its keys are the inputs.</param>
    /// <param name="before">The same paths on the default branch before the push; null when that commit is unknown (a
    /// forced push whose old commit is gone): then every input that differs from the planned one counts.</param>
    /// <param name="after">The same paths on the default branch after the push.</param>
    public static IReadOnlyList<string> StaleInputs(
        IReadOnlyDictionary<string, string?> planned, IReadOnlyDictionary<string, string?>? before, IReadOnlyDictionary<string, string?> after)
    {
        ArgumentNullException.ThrowIfNull(planned);
        ArgumentNullException.ThrowIfNull(after);
        return planned
            .Where(p =>
            {
                var now = after.GetValueOrDefault(p.Key);
                var moved = before is null || !string.Equals(before.GetValueOrDefault(p.Key), now, StringComparison.Ordinal);
                return moved && !string.Equals(p.Value, now, StringComparison.Ordinal);
            })
            .Select(p => p.Key)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Why a project is planned again, for its queued check run.</summary>
    /// <param name="files">The inputs that are files read rather than module directories (named as such).</param>
    public static string Reason(string projectPath, IReadOnlyList<string> staleInputs, string afterSha, IReadOnlyCollection<string>? files = null)
    {
        ArgumentNullException.ThrowIfNull(projectPath);
        ArgumentNullException.ThrowIfNull(staleInputs);
        ArgumentNullException.ThrowIfNull(afterSha);
        var what = string.Join(", ", staleInputs.Select(p => Discovery.ProjectInputSet.Describe(p, projectPath, files ?? [])));
        var commit = afterSha.Length > 7 ? afterSha[..7] : afterSha;
        return $"The default branch changed {what} in {commit}, so the plan was planned again against the current state. "
            + "Ensemble plans the pull request's head: merge or rebase the default branch into it to plan with those changes; "
            + "an identical plan keeps its approval";
    }
}
