namespace Ensemble.Jobs.Config;

/// <summary>
/// The repository's <c>.ensemble.yml</c> (version 1). Every key is optional; a missing or empty file is
/// <see cref="Default"/>. Which keys count depends on where the file was read: see <see cref="EffectiveConfig"/>.
/// </summary>
public sealed record EnsembleConfig
{
    public static EnsembleConfig Default { get; } = new();

    /// <summary>Changed paths matching these globs never cause a plan, in any project.</summary>
    public IReadOnlyList<Glob> Ignore { get; init; } = [];

    /// <summary>Who may approve projects by path glob (power: read from the default branch only).</summary>
    public IReadOnlyList<ApproverRule> Approvers { get; init; } = [];

    /// <summary>What happens at merge (power: read from the default branch only).</summary>
    public ApplyMode Apply { get; init; } = ApplyMode.OnMerge;

    /// <summary>Per-project overrides, in file order, at most one per path.</summary>
    public IReadOnlyList<ProjectConfig> Projects { get; init; } = [];

    /// <summary>Parses the file's text (null or blank: defaults). Never throws on bad input; errors carry line and key.</summary>
    public static ConfigResult Parse(string? yaml) => ConfigParser.Parse(yaml);

    public ProjectConfig? FindProject(string path)
    {
        foreach (var project in Projects)
        {
            if (project.Path == path)
            {
                return project;
            }
        }

        return null;
    }
}

/// <summary>What happens to approved plans when the pull request is merged.</summary>
public enum ApplyMode
{
    /// <summary><c>on-merge</c>: approved plans are applied after merge (when the merged inputs equal the planned ones).</summary>
    OnMerge,

    /// <summary><c>after-merge-approval</c>: the merged commit is planned again and each project needs a new approval there.</summary>
    AfterMergeApproval,
}

/// <summary>One entry of <c>projects:</c>. <see cref="Path"/> is repo-relative, '/'-separated, the root is ".".</summary>
public sealed record ProjectConfig
{
    public required string Path { get; init; }

    /// <summary>The line of the entry in the file, for messages about it.</summary>
    public int Line { get; init; }

    public string? Name { get; init; }

    /// <summary>Changes matching these globs also plan the project (<c>when_modified</c> / <c>extra_paths</c>).</summary>
    public IReadOnlyList<Glob> WhenModified { get; init; } = [];

    /// <summary>Changes matching these globs do not plan this project.</summary>
    public IReadOnlyList<Glob> Ignore { get; init; } = [];

    /// <summary>"1.9.8" (Terraform) or "tofu-1.8.0" (OpenTofu); null: the configured binary.</summary>
    public string? TerraformVersion { get; init; }

    public string? Workspace { get; init; }

    /// <summary>Projects applied before this one.</summary>
    public IReadOnlyList<string> DependsOn { get; init; } = [];

    /// <summary>False: planned only when asked for (e.g. <c>/ensemble replan &lt;path&gt;</c>).</summary>
    public bool Autoplan { get; init; } = true;

    /// <summary>Who may approve this project; null: the top-level rules, then the default (writers but the author).</summary>
    public ApproverSet? Approvers { get; init; }

    /// <summary>Whether the PR author may approve this project; null: no (the default).</summary>
    public bool? AllowSelfApproval { get; init; }
}

/// <summary>GitHub logins and teams (<c>org/team-slug</c>).</summary>
public sealed record ApproverSet(IReadOnlyList<string> Users, IReadOnlyList<string> Teams);

/// <summary>A top-level <c>approvers:</c> rule: projects whose path matches one of the globs.</summary>
public sealed record ApproverRule(IReadOnlyList<Glob> Paths, ApproverSet Approvers, int Line);

/// <summary>An error in the file: where (1-based line, key path like <c>projects[1].depends_on</c>) and what.</summary>
public sealed record ConfigError(int Line, string Key, string Message)
{
    public override string ToString() => Key.Length == 0 ? $"line {Line}: {Message}" : $"line {Line}: {Key}: {Message}";
}

/// <summary>A parsed configuration, or the errors that prevent using it (then <see cref="Config"/> is null).</summary>
public sealed record ConfigResult(EnsembleConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    /// <summary>No file: defaults.</summary>
    public static ConfigResult Missing { get; } = new(EnsembleConfig.Default, []);

    public bool IsValid => Config is not null;
}
