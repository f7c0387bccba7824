using Ensemble.Jobs.Config;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Discovery;

namespace Ensemble.Tests.Config;

public class ConfiguredDiscoveryTests
{
    private const string Backend = "terraform {\n  backend \"s3\" {}\n}\n";

    private static readonly RepoSnapshot Repo = Snapshot(
        ("envs/prod/main.tf", Backend + "module \"net\" {\n  source = \"../../modules/net\"\n}\n"),
        ("envs/prod/README.md", ""),
        ("envs/staging/main.tf", Backend + "module \"net\" {\n  source = \"../../modules/net\"\n}\n"),
        ("envs/sandbox/main.tf", Backend),
        ("modules/net/main.tf", "resource \"x\" \"y\" {}\n"),
        ("modules/net/README.md", ""),
        ("shared/policy.json", ""));

    [Fact]
    public void Apply_NoConfig_SameAsDiscovery()
    {
        var result = Apply(EffectiveConfig.Default, Modified("modules/net/main.tf"));

        Assert.Equal(["envs/prod", "envs/staging"], result.Projects.Select(p => p.Path));
        Assert.Equal(["modules/net/main.tf changed (envs/prod → modules/net)"], result.Projects[0].Reasons);
        Assert.Empty(result.Skipped);
        Assert.Empty(result.Errors);
    }

    [Fact]
    public void Apply_RepoWideIgnore_DropsMatchingChanges()
    {
        var result = Apply(Config("version: 1\nignore: [\"**/*.md\"]\n"), Modified("modules/net/README.md"), Modified("envs/sandbox/main.tf"));

        Assert.Equal(["envs/sandbox"], result.Projects.Select(p => p.Path));
    }

    [Fact]
    public void Apply_RenameOutOfIgnoredPath_StillCounts()
    {
        var rename = new ChangedFile("envs/prod/notes.tf", ChangeKind.Renamed, "docs/notes.tf");

        var result = Apply(Config("version: 1\nignore: [\"docs/**\"]\n"), rename);

        Assert.Equal(["envs/prod"], result.Projects.Select(p => p.Path));
    }

    [Fact]
    public void Apply_ProjectIgnore_SkipsOnlyThatProjectWithReason()
    {
        var config = Config("version: 1\nprojects:\n  - path: envs/prod\n    ignore: [\"modules/net/**\"]\n");

        var result = Apply(config, Modified("modules/net/main.tf"));

        Assert.Equal(["envs/staging"], result.Projects.Select(p => p.Path));
        var skipped = Assert.Single(result.Skipped);
        Assert.Equal("envs/prod", skipped.Path);
        Assert.Equal("every change to it matches its ignore globs (modules/net/**)", skipped.Reason);
    }

    [Fact]
    public void Apply_ProjectIgnore_KeepsOtherReasons()
    {
        var config = Config("version: 1\nprojects:\n  - path: envs/prod\n    ignore: [\"envs/prod/README.md\"]\n");

        var result = Apply(config, Modified("envs/prod/README.md"), Modified("modules/net/main.tf"));

        var prod = result.Projects.Single(p => p.Path == "envs/prod");
        Assert.Equal(["modules/net/main.tf changed (envs/prod → modules/net)"], prod.Reasons);
    }

    [Fact]
    public void Apply_WhenModified_AddsProjectWithTheGlobInTheReason()
    {
        var config = Config("version: 1\nprojects:\n  - path: envs/sandbox\n    when_modified: [\"shared/*.json\"]\n");

        var result = Apply(config, Modified("shared/policy.json"));

        var sandbox = Assert.Single(result.Projects);
        Assert.Equal("envs/sandbox", sandbox.Path);
        Assert.False(sandbox.Destroy);
        Assert.Equal(["shared/policy.json matched when_modified glob shared/*.json"], sandbox.Reasons);
    }

    [Fact]
    public void Apply_AutoplanFalse_SkippedUnlessForced()
    {
        var config = Config("version: 1\nprojects:\n  - path: envs/staging\n    autoplan: false\n");

        var result = Apply(config, Modified("modules/net/main.tf"));
        var forced = ConfiguredDiscovery.Apply(config, Repo, Repo, [Modified("modules/net/main.tf")], ["envs/staging"]);

        Assert.Equal(["envs/prod"], result.Projects.Select(p => p.Path));
        Assert.Equal("envs/staging", Assert.Single(result.Skipped).Path);
        Assert.Contains("autoplan is false in .ensemble.yml (line 3)", result.Skipped[0].Reason, StringComparison.Ordinal);
        Assert.Equal(["envs/prod", "envs/staging"], forced.Projects.Select(p => p.Path));
        Assert.Empty(forced.Skipped);
    }

    [Fact]
    public void Apply_IgnoreNeverHidesADestroy()
    {
        var head = Snapshot(("envs/staging/main.tf", Backend), ("docs/a.md", ""));
        var config = Config("version: 1\nignore: [\"envs/prod/**\"]\n");

        var result = ConfiguredDiscovery.Apply(config, head, Repo, [new ChangedFile("envs/prod/main.tf", ChangeKind.Deleted)]);

        var prod = Assert.Single(result.Projects, p => p.Path == "envs/prod");
        Assert.True(prod.Destroy);
    }

    [Fact]
    public void Apply_ConfigForUnknownPathsAndCycles_ReportedAsProblems()
    {
        var config = Config("""
            version: 1
            projects:
              - path: envs/prod
                depends_on: [envs/staging, envs/gone]
              - path: envs/staging
                depends_on: [envs/prod]
              - path: envs/typo
            """);

        var result = Apply(config, Modified("envs/sandbox/main.tf"));

        Assert.Equal(["envs/sandbox"], result.Projects.Select(p => p.Path));
        Assert.Equal(
            [".ensemble.yml line 3: envs/prod depends_on envs/gone, which is not a Terraform project",
             ".ensemble.yml line 7: envs/typo is not a Terraform project (no backend or cloud block found in it); its settings are unused",
             ".ensemble.yml: depends_on forms a cycle (envs/prod → envs/staging → envs/prod); no apply order satisfies it"],
            result.Problems);
    }

    [Fact]
    public void Apply_InvalidConfig_PlansNothingAndExposesErrors()
    {
        var config = EffectiveConfig.Merge(ConfigResult.Missing, EnsembleConfig.Parse("version: 1\nprojects:\n  - path: a\n    depends_on: a\n"));

        var result = Apply(config, Modified("envs/sandbox/main.tf"));

        Assert.Empty(result.Projects);
        Assert.Equal([".ensemble.yml in the pull request, line 4: projects[0].depends_on: expected a list of project paths"], result.Errors);
    }

    private static ConfiguredResult Apply(EffectiveConfig config, params ChangedFile[] changes) =>
        ConfiguredDiscovery.Apply(config, Repo, Repo, changes);

    private static EffectiveConfig Config(string yaml)
    {
        var parsed = EnsembleConfig.Parse(yaml);
        Assert.Empty(parsed.Errors);
        return EffectiveConfig.Merge(parsed, parsed);
    }

    private static ChangedFile Modified(string path) => new(path, ChangeKind.Modified);

    internal static RepoSnapshot Snapshot(params (string Path, string Text)[] files) =>
        RepoSnapshot.Build(
            files.Where(f => f.Path.EndsWith(".tf", StringComparison.Ordinal)).ToDictionary(f => f.Path, f => HclScanner.Scan(f.Text)),
            files.Select(f => f.Path).ToList());
}
