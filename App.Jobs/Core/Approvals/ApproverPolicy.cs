namespace Ensemble.Jobs.Core.Approvals;

/// <summary>
/// Who may approve one project's plans, from <c>.ensemble.yml</c> on the default branch (a PR cannot widen its own
/// permissions). With no users and no teams, the default applies: write, maintain or admin permission.
/// </summary>
/// <param name="Users">GitHub logins, with or without a leading <c>@</c>.</param>
/// <param name="Teams">Teams as <c>org/slug</c>, with or without a leading <c>@</c>.</param>
/// <param name="Source">Where the rule comes from, for refusals, e.g. <c>.ensemble.yml on main: envs/prod/**</c>.</param>
public sealed record ApproverRequirement(IReadOnlyList<string> Users, IReadOnlyList<string> Teams, bool AllowSelfApproval, string? Source)
{
    /// <summary>No <c>.ensemble.yml</c> rule: write, maintain or admin, never the PR's author.</summary>
    public static ApproverRequirement Default { get; } = new([], [], false, null);

    public bool NamesApprovers => Users.Count > 0 || Teams.Count > 0;
}

/// <summary>One click on Approve, with what the caller resolved about the clicker.</summary>
/// <param name="Login">The clicker's login.</param>
/// <param name="Permission">The clicker's repository permission as GitHub returns it: <c>admin</c>, <c>maintain</c>,
/// <c>write</c>, <c>triage</c>, <c>read</c> or <c>none</c> (the legacy <c>push</c>/<c>pull</c> are understood too).</param>
/// <param name="Teams">The clicker's teams as <c>org/slug</c>; only needed when the requirement names teams.</param>
/// <param name="PullRequestAuthor">The login of the pull request's author.</param>
/// <param name="ProjectPath">The project whose plan is approved, for messages.</param>
public sealed record ApprovalRequest(
    string Login, string Permission, IReadOnlyList<string> Teams, string PullRequestAuthor, string ProjectPath, ApproverRequirement Requirement);

public abstract record ApproverDecision
{
    private ApproverDecision() { }

    public sealed record Allowed : ApproverDecision;

    /// <param name="Reason">A sentence for the user, naming who may approve instead.</param>
    /// <param name="WhoMayApprove">The same as <see cref="ApproverPolicy.DescribeWhoMayApprove"/>.</param>
    public sealed record Refused(string Reason, string WhoMayApprove) : ApproverDecision;

    public bool IsAllowed => this is Allowed;
}

/// <summary>Repository permission levels, lowest first, so "at least" is a comparison.</summary>
public enum RepositoryPermission { None, Read, Triage, Write, Maintain, Admin }

/// <summary>
/// Decides whether a user may approve a plan. Pure: the caller resolves permission and teams from GitHub.
/// </summary>
/// <remarks>
/// Named approvers replace the default rule (as in Atlantis and Terrateam): a named user or a member of a named team
/// may approve with read permission, since the repository's admins chose them by name. They still need at least read:
/// someone with no access to the repository cannot have reviewed the plan. The PR's author never approves their own
/// plans unless the rule says <c>allow_self_approval</c>. Logins and teams compare case-insensitively, as on GitHub.
/// </remarks>
public static class ApproverPolicy
{
    private const string DefaultRule = "write, maintain or admin";

    public static ApproverDecision Decide(ApprovalRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.Login);
        var req = request.Requirement;
        var who = DescribeWhoMayApprove(req);
        var clicker = Mention(request.Login);
        var project = MarkdownText.Code(request.ProjectPath);
        var source = req.Source is null ? "" : $" (from {MarkdownText.Escape(req.Source, 200)})";
        var permission = ParsePermission(request.Permission);

        if (!req.AllowSelfApproval && SameName(request.Login, request.PullRequestAuthor))
        {
            return new ApproverDecision.Refused(
                $"{clicker} opened this pull request and cannot approve its plans (allow_self_approval is off). Approvers: {who}.", who);
        }

        if (!req.NamesApprovers)
        {
            return permission >= RepositoryPermission.Write
                ? new ApproverDecision.Allowed()
                : new ApproverDecision.Refused(
                    $"{clicker} has {Describe(permission, request.Permission)}; approving needs {DefaultRule}.", who);
        }

        var named = req.Users.Any(u => SameName(u, request.Login))
            || req.Teams.Any(t => request.Teams.Any(m => SameName(t, m)));
        if (!named)
        {
            return new ApproverDecision.Refused($"{clicker} cannot approve {project}: approvers are {ListNamed(req)}{source}.", who);
        }

        return permission >= RepositoryPermission.Read
            ? new ApproverDecision.Allowed()
            : new ApproverDecision.Refused(
                $"{clicker} is a named approver of {project} but has {Describe(permission, request.Permission)}; approving needs at least read.", who);
    }

    /// <summary>"@alice, @bob or members of @acme/platform", or the default rule; for refusals and the aggregate summary.</summary>
    public static string DescribeWhoMayApprove(ApproverRequirement requirement)
    {
        ArgumentNullException.ThrowIfNull(requirement);
        var self = requirement.AllowSelfApproval ? "" : ", except the pull request's author";
        if (!requirement.NamesApprovers)
        {
            return $"anyone with {DefaultRule} permission on the repository{self}";
        }

        return ListNamed(requirement) + self;
    }

    private static string ListNamed(ApproverRequirement requirement)
    {
        var parts = requirement.Users.Select(Mention)
            .Concat(requirement.Teams.Count == 0 ? [] : [$"members of {OrList(requirement.Teams.Select(Mention).ToList())}"])
            .ToList();
        return OrList(parts);
    }

    /// <summary>GitHub's permission strings; anything unknown counts as none, so a new or garbled value never grants power.</summary>
    public static RepositoryPermission ParsePermission(string? permission) => permission?.Trim().ToLowerInvariant() switch
    {
        "admin" => RepositoryPermission.Admin,
        "maintain" => RepositoryPermission.Maintain,
        "write" or "push" => RepositoryPermission.Write,
        "triage" => RepositoryPermission.Triage,
        "read" or "pull" => RepositoryPermission.Read,
        _ => RepositoryPermission.None,
    };

    private static string Describe(RepositoryPermission p, string raw) => p switch
    {
        RepositoryPermission.None when !string.Equals(raw?.Trim(), "none", StringComparison.OrdinalIgnoreCase)
            && !string.IsNullOrWhiteSpace(raw) => $"an unknown permission ({MarkdownText.Escape(raw, 20)})",
        RepositoryPermission.None => "no access to this repository",
        _ => $"{p.ToString().ToLowerInvariant()} permission",
    };

    private static bool SameName(string a, string b) =>
        string.Equals(a.Trim().TrimStart('@'), b.Trim().TrimStart('@'), StringComparison.OrdinalIgnoreCase);

    /// <summary>A GitHub login or org/slug as a mention; anything else from configuration is escaped text.</summary>
    private static string Mention(string name)
    {
        var n = name.Trim().TrimStart('@');
        var plain = n.Length is > 0 and <= 100 && n.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '/' or '.' or '_');
        return plain ? "@" + n : MarkdownText.Escape(n, 100);
    }

    private static string OrList(IReadOnlyList<string> items) => items.Count switch
    {
        0 => "",
        1 => items[0],
        _ => string.Join(", ", items.Take(items.Count - 1)) + " or " + items[^1],
    };
}
