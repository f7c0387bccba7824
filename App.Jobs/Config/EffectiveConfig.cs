namespace Ensemble.Jobs.Config;

/// <summary>
/// Who may approve a project: with no users and no teams, the default (anyone with write access to the repository,
/// the PR author excluded unless <see cref="AllowSelfApproval"/>). <see cref="Source"/> says which setting decided it.
/// </summary>
public sealed record ApprovalPolicy(IReadOnlyList<string> Users, IReadOnlyList<string> Teams, bool AllowSelfApproval, string Source)
{
    /// <summary>True when only the listed users and members of the listed teams may approve.</summary>
    public bool IsRestricted => Users.Count > 0 || Teams.Count > 0;
}

/// <summary>
/// The configuration that applies to a pull request. Keys that grant or limit power (approvers,
/// allow_self_approval, apply) come from the default branch's file, so a pull request cannot widen its own
/// permissions; keys that shape plans (ignore, when_modified, terraform_version, workspace, depends_on, autoplan)
/// come from the head, so a pull request can add a project's settings together with the project.
/// </summary>
public sealed class EffectiveConfig
{
    private static readonly ApprovalPolicy DefaultPolicy = new([], [], false, "default: anyone with write access except the author");

    private readonly EnsembleConfig _plan;
    private readonly EnsembleConfig _power;

    private EffectiveConfig(EnsembleConfig plan, EnsembleConfig power, IReadOnlyList<string> errors, IReadOnlyList<string> notices)
    {
        _plan = plan;
        _power = power;
        Errors = errors;
        Notices = notices;
    }

    /// <summary>No file anywhere: discovery and defaults do everything.</summary>
    public static EffectiveConfig Default { get; } = new(EnsembleConfig.Default, EnsembleConfig.Default, [], []);

    /// <summary>
    /// Errors of either file, each naming the file's origin, line and key. When there are any, nothing may be
    /// planned: a broken file must not silently fall back to defaults that could grant more than it meant to.
    /// </summary>
    public IReadOnlyList<string> Errors { get; }

    public bool IsValid => Errors.Count == 0;

    /// <summary>Power settings the head changes, which take effect only after merge: worth telling the author.</summary>
    public IReadOnlyList<string> Notices { get; }

    /// <summary>Repo-wide ignore globs (from the head).</summary>
    public IReadOnlyList<Glob> Ignore => _plan.Ignore;

    /// <summary>Project entries with their plan-shaping keys (from the head).</summary>
    public IReadOnlyList<ProjectConfig> Projects => _plan.Projects;

    /// <summary>The apply mode (from the default branch).</summary>
    public ApplyMode Apply => _power.Apply;

    public ProjectConfig? FindProject(string path) => _plan.FindProject(path);

    /// <summary>
    /// Combines the default branch's file (null-free <see cref="ConfigResult.Missing"/> when absent) with the head's.
    /// </summary>
    public static EffectiveConfig Merge(ConfigResult defaultBranch, ConfigResult head)
    {
        ArgumentNullException.ThrowIfNull(defaultBranch);
        ArgumentNullException.ThrowIfNull(head);
        var errors = new List<string>();
        errors.AddRange(head.Errors.Select(e => $".ensemble.yml in the pull request, {e}"));
        errors.AddRange(defaultBranch.Errors.Select(e => $".ensemble.yml on the default branch, {e}"));
        if (defaultBranch.Config is null || head.Config is null)
        {
            return new EffectiveConfig(EnsembleConfig.Default, EnsembleConfig.Default, errors, []);
        }

        var power = defaultBranch.Config;
        var plan = head.Config with
        {
            // Approver keys live on project entries, but the head's never count: take the default branch's.
            Projects = [.. head.Config.Projects.Select(p => p with
            {
                Approvers = power.FindProject(p.Path)?.Approvers,
                AllowSelfApproval = power.FindProject(p.Path)?.AllowSelfApproval,
            })],
            Approvers = power.Approvers,
            Apply = power.Apply,
        };
        return new EffectiveConfig(plan, power, errors, PowerChanges(power, head.Config));
    }

    /// <summary>
    /// Who may approve the project: its own <c>approvers</c> entry if it has one, else every top-level rule whose
    /// paths match it (their users and teams together), else the default.
    /// </summary>
    public ApprovalPolicy ApprovalFor(string projectPath)
    {
        ArgumentNullException.ThrowIfNull(projectPath);
        var project = _power.FindProject(projectPath);
        var self = project?.AllowSelfApproval ?? false;
        if (project?.Approvers is { } own)
        {
            return new ApprovalPolicy(own.Users, own.Teams, self, $"projects entry for {projectPath} (line {project.Line})");
        }

        var users = new List<string>();
        var teams = new List<string>();
        var lines = new List<int>();
        foreach (var rule in _power.Approvers)
        {
            if (rule.Paths.Any(g => g.IsMatch(projectPath)))
            {
                users.AddRange(rule.Approvers.Users.Where(u => !users.Contains(u, StringComparer.OrdinalIgnoreCase)));
                teams.AddRange(rule.Approvers.Teams.Where(t => !teams.Contains(t, StringComparer.OrdinalIgnoreCase)));
                lines.Add(rule.Line);
            }
        }

        return lines.Count > 0
            ? new ApprovalPolicy(users, teams, self, $"approvers rule(s) at line {string.Join(", ", lines)}")
            : DefaultPolicy with { AllowSelfApproval = self };
    }

    private static List<string> PowerChanges(EnsembleConfig power, EnsembleConfig head)
    {
        var notices = new List<string>();
        if (head.Apply != power.Apply)
        {
            notices.Add("This pull request changes `apply` in .ensemble.yml; it takes effect after merge.");
        }

        if (DescribeRules(head) != DescribeRules(power))
        {
            notices.Add("This pull request changes `approvers` in .ensemble.yml; approvals follow the default branch's file until it is merged.");
        }

        foreach (var project in head.Projects)
        {
            var before = power.FindProject(project.Path);
            if (Describe(project.Approvers) != Describe(before?.Approvers) || project.AllowSelfApproval != before?.AllowSelfApproval)
            {
                notices.Add($"This pull request changes who may approve {project.Path} in .ensemble.yml; it takes effect after merge.");
            }
        }

        return notices;
    }

    private static string DescribeRules(EnsembleConfig config) =>
        string.Join(";", config.Approvers.Select(r => string.Join(",", r.Paths.Select(g => g.Pattern)) + "=" + Describe(r.Approvers)));

    private static string Describe(ApproverSet? set) =>
        set is null ? "" : string.Join(",", set.Users) + "|" + string.Join(",", set.Teams);
}
