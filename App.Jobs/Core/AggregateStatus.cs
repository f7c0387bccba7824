using System.Text;
using Ensemble.Jobs.State;

namespace Ensemble.Jobs.Core;

/// <summary>What the aggregate check run <c>ensemble</c> needs to know of one project.</summary>
public sealed record ProjectStatusView(string ProjectPath, RunStatus Status, string? Summary, bool Destroy, string? WhoMayApprove = null);

/// <summary>
/// Computes the aggregate check run from the projects of one head. Pure. Branch protection requires this one name,
/// so it never reports <c>neutral</c> (GitHub counts neutral as passing) while anything is pending.
/// </summary>
public static class AggregateStatus
{
    public const string CheckName = "ensemble";

    public static string ProjectCheckName(string projectPath) => $"ensemble: {projectPath}";

    /// <param name="Interim">A passing view that more work will replace soon (plans running, applies outstanding).</param>
    public sealed record Result(CheckStatus Status, CheckConclusion? Conclusion, CheckRunOutput Output, bool Interim = false)
    {
        public bool IsInterim => Interim || Status != CheckStatus.Completed;
    }

    public static Result Compute(HeadStatus headStatus, IReadOnlyList<ProjectStatusView> projects, string? problems)
    {
        if (headStatus == HeadStatus.Discovering)
        {
            return new(CheckStatus.InProgress, null, new("Finding changed Terraform projects…",
                "Ensemble is reading the pull request's changes to find the Terraform projects it affects."));
        }

        if (headStatus == HeadStatus.DiscoveryFailed)
        {
            return new(CheckStatus.Completed, CheckConclusion.Failure, new("Could not find the changed projects",
                $"Ensemble could not work out which projects this pull request changes, so nothing was planned.\n\n{problems}\n\n" +
                "Fix the problem above and push a new commit, or comment `/ensemble replan` to try again."));
        }

        if (headStatus == HeadStatus.Superseded)
        {
            return new(CheckStatus.Completed, CheckConclusion.Cancelled, new("Superseded by a newer commit",
                "A newer commit was pushed to this pull request; its plans are on that commit."));
        }

        var problemsBlock = string.IsNullOrWhiteSpace(problems) ? "" : $"\n\n### Problems found\n{problems}\n";
        if (projects.Count == 0)
        {
            return new(CheckStatus.Completed, CheckConclusion.Success, new("No Terraform projects changed",
                "This pull request changes no file that belongs to a Terraform project, so there is nothing to plan." + problemsBlock));
        }

        int queued = 0, planning = 0, failed = 0, waiting = 0, done = 0;
        foreach (var p in projects)
        {
            switch (p.Status)
            {
                case RunStatus.Queued: queued++; break;
                case RunStatus.Planning: planning++; break;
                case RunStatus.Failed: failed++; break;
                case RunStatus.AwaitingApproval: waiting++; break;
                default: done++; break;
            }
        }

        var table = Table(projects);
        if (queued + planning > 0)
        {
            var finished = projects.Count - queued - planning;
            return new(CheckStatus.InProgress, null, new(
                $"Planning: {finished} of {Plural(projects.Count, "project")} done",
                $"{planning} planning, {queued} queued, {finished} finished.\n\n{table}{problemsBlock}"));
        }

        if (projects.Any(p => p.Status is RunStatus.Applying or RunStatus.Applied or RunStatus.ApplyFailed))
        {
            return AfterMerge(projects, table + problemsBlock);
        }

        if (failed > 0)
        {
            return new(CheckStatus.Completed, CheckConclusion.Failure, new(
                $"{Plural(failed, "plan")} failed",
                $"{Plural(failed, "project")} could not be planned; open its check run `ensemble: <project>` for the error and what to do, " +
                $"then push a fix or comment `/ensemble replan <project>`.\n\n{table}{problemsBlock}"));
        }

        if (waiting > 0)
        {
            return new(CheckStatus.Completed, CheckConclusion.ActionRequired, new(
                $"{Plural(waiting, "project")} awaiting approval",
                $"Each project with changes needs an approval before this pull request can merge. Open each project's check run, review its plan and press **Approve**.\n\n{table}{problemsBlock}"));
        }

        return new(CheckStatus.Completed, CheckConclusion.Success, new(
            $"All {Plural(projects.Count, "project")} ready",
            $"Every project is approved or has no changes.\n\n{table}{problemsBlock}"));
    }

    /// <summary>After the merge (applies started): what was applied. The merge is done, so this gates nothing.</summary>
    private static Result AfterMerge(IReadOnlyList<ProjectStatusView> projects, string details)
    {
        int applied = 0, applyFailed = 0, pending = 0;
        foreach (var p in projects)
        {
            switch (p.Status)
            {
                case RunStatus.Applied: applied++; break;
                case RunStatus.ApplyFailed: applyFailed++; break;
                case RunStatus.Approved or RunStatus.Applying: pending++; break;
            }
        }

        var total = applied + applyFailed + pending;
        if (applyFailed > 0)
        {
            return new(CheckStatus.Completed, CheckConclusion.Failure, new(
                $"{Plural(applyFailed, "apply", "applies")} failed",
                $"{applied} of {Plural(total, "project")} applied, {applyFailed} failed" + (pending > 0 ? $", {pending} still applying" : "") +
                ". Open the failed project's check run on the merge commit for the error and what to do.\n\n" + details), pending > 0);
        }

        return pending > 0
            ? new(CheckStatus.Completed, CheckConclusion.Success, new($"Applying: {applied} of {Plural(total, "project")} applied",
                $"The pull request is merged; Ensemble is applying the approved plans.\n\n{details}"), Interim: true)
            : new(CheckStatus.Completed, CheckConclusion.Success, new($"All {Plural(total, "project")} applied",
                $"The pull request is merged and every approved plan was applied.\n\n{details}"));
    }

    private static string Table(IReadOnlyList<ProjectStatusView> projects)
    {
        var sb = new StringBuilder("| Project | Status | Plan | Who may approve |\n|---|---|---|---|\n");
        foreach (var p in projects)
        {
            sb.Append("| `").Append(p.ProjectPath.Replace("`", "'", StringComparison.Ordinal)).Append("` | ")
              .Append(Describe(p.Status)).Append(p.Destroy ? " (destroys the project)" : "").Append(" | ")
              .Append(p.Summary ?? "").Append(" | ")
              .Append(p.Status == RunStatus.AwaitingApproval ? (p.WhoMayApprove ?? "").Replace("|", "\\|", StringComparison.Ordinal) : "")
              .Append(" |\n");
        }
        return sb.ToString();
    }

    private static string Describe(RunStatus s) => s switch
    {
        RunStatus.Queued => "⏳ queued",
        RunStatus.Planning => "🔄 planning",
        RunStatus.NoChanges => "✅ no changes",
        RunStatus.AwaitingApproval => "✋ awaiting approval",
        RunStatus.Failed => "❌ plan failed",
        RunStatus.Approved => "✅ approved",
        RunStatus.Applying => "🚀 applying",
        RunStatus.Applied => "✅ applied",
        RunStatus.ApplyFailed => "❌ apply failed",
        RunStatus.Superseded => "superseded",
        RunStatus.Abandoned => "abandoned",
        _ => s.ToString(),
    };

    private static string Plural(int n, string word, string? plural = null) => n == 1 ? $"1 {word}" : $"{n} {plural ?? word + "s"}";
}
