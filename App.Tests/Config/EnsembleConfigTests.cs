using Ensemble.Jobs.Config;

namespace Ensemble.Tests.Config;

public class EnsembleConfigTests
{
    private const string Full = """
        version: 1
        ignore: ["docs/**"]
        apply: after-merge-approval
        approvers:
          - paths: ["envs/prod/**"]
            users: [alice]
            teams: ["acme/platform"]
        projects:
          - path: ./envs/prod/
            name: prod
            when_modified: ["shared/*.json"]
            extra_paths: ["scripts/**"]
            ignore: ["envs/prod/README.md"]
            terraform_version: "tofu-1.8.0"
            workspace: blue
            depends_on: [envs/network]
            autoplan: false
            approvers: {users: [bob], teams: ["acme/sre"]}
            allow_self_approval: true
          - dir: envs/network
        """;

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   \n")]
    [InlineData("# only a comment\n")]
    public void Parse_EmptyOrMissing_Defaults(string? yaml)
    {
        var result = EnsembleConfig.Parse(yaml);

        Assert.True(result.IsValid);
        Assert.Equal(EnsembleConfig.Default, result.Config);
        Assert.Equal(ApplyMode.OnMerge, result.Config!.Apply);
    }

    [Fact]
    public void Parse_EveryKey_ReadsTheModel()
    {
        var result = EnsembleConfig.Parse(Full);

        Assert.Empty(result.Errors);
        var config = result.Config!;
        Assert.Equal(["docs/**"], config.Ignore.Select(g => g.Pattern));
        Assert.Equal(ApplyMode.AfterMergeApproval, config.Apply);
        var rule = Assert.Single(config.Approvers);
        Assert.Equal(["envs/prod/**"], rule.Paths.Select(g => g.Pattern));
        Assert.Equal(["alice"], rule.Approvers.Users);
        Assert.Equal(["acme/platform"], rule.Approvers.Teams);
        Assert.Equal(["envs/prod", "envs/network"], config.Projects.Select(p => p.Path));
        var prod = config.Projects[0];
        Assert.Equal(9, prod.Line);
        Assert.Equal("prod", prod.Name);
        Assert.Equal(["shared/*.json", "scripts/**"], prod.WhenModified.Select(g => g.Pattern));
        Assert.Equal(["envs/prod/README.md"], prod.Ignore.Select(g => g.Pattern));
        Assert.Equal("tofu-1.8.0", prod.TerraformVersion);
        Assert.Equal("blue", prod.Workspace);
        Assert.Equal(["envs/network"], prod.DependsOn);
        Assert.False(prod.Autoplan);
        Assert.Equal(["bob"], prod.Approvers!.Users);
        Assert.Equal(["acme/sre"], prod.Approvers.Teams);
        Assert.True(prod.AllowSelfApproval);
        Assert.True(config.Projects[1].Autoplan);
        Assert.Null(config.Projects[1].AllowSelfApproval);
    }

    [Theory]
    [InlineData("version: 1\nprojects:\n  - path: a\n  - path: b\n    depends_on: a\n",
        "line 5: projects[1].depends_on: expected a list of project paths")]
    [InlineData("version: 1\naprovers: []\n", "line 2: aprovers: unknown key (did you mean 'approvers'?)")]
    [InlineData("version: 1\nprojects:\n  - path: a\n    when_modifed: [x]\n",
        "line 4: projects[0].when_modifed: unknown key (did you mean 'when_modified'?)")]
    [InlineData("version: 1\nignore: [\"../x/**\"]\n", "line 2: ignore: invalid glob '../x/**': '..' segments are not allowed")]
    [InlineData("version: 1\nprojects:\n  - path: a\n    ignore: [\"a/[x\"]\n", "line 4: projects[0].ignore: invalid glob 'a/[x': unclosed '['")]
    [InlineData("version: 2\n", "line 1: version: expected 1")]
    [InlineData("projects: []\n", "line 1: version: missing; start the file with 'version: 1'")]
    [InlineData("version: 1\napply: yes\n", "line 2: apply: expected on-merge or after-merge-approval")]
    [InlineData("version: 1\nprojects:\n  - name: x\n", "line 3: projects[0].path: missing")]
    [InlineData("version: 1\nprojects:\n  - path: a\n    dir: a\n", "line 4: projects[0].dir: give either path or dir, not both")]
    [InlineData("version: 1\nprojects:\n  - path: a\n  - path: a/\n", "line 4: projects[1].path: 'a' is already configured by projects[0]")]
    [InlineData("version: 1\nprojects:\n  - path: ../a\n", "line 3: projects[0].path: '../a' is not a project directory")]
    [InlineData("version: 1\nprojects:\n  - path: a\n    autoplan: \"false\"\n", "line 4: projects[0].autoplan: expected true or false")]
    [InlineData("version: 1\nprojects:\n  - path: a\n    terraform_version: \">= 1.5\"\n", "line 4: projects[0].terraform_version: '>= 1.5' is not an exact version")]
    [InlineData("version: 1\nprojects:\n  - path: a\n    depends_on: [a]\n", "line 3: projects[0].depends_on: a project cannot depend on itself")]
    [InlineData("version: 1\napprovers:\n  - paths: [\"envs/**\"]\n", "line 3: approvers[0]: needs users and/or teams")]
    [InlineData("version: 1\napprovers:\n  - users: [alice]\n", "line 3: approvers[0].paths: missing")]
    [InlineData("version: 1\napprovers:\n  - paths: [a]\n    teams: [platform]\n", "line 4: approvers[0].teams: 'platform' is not a team like \"org/team-slug\"")]
    [InlineData("version: 1\nversion: 1\n", "line 2: not valid YAML: Duplicate key version")]
    [InlineData("version: 1\nprojects: [\n", "line 3: not valid YAML: ")]
    [InlineData("- a\n- b\n", "line 1: expected a mapping of settings")]
    [InlineData("version: 1\n---\nversion: 1\n", "line 3: only one YAML document is allowed")]
    public void Parse_InvalidFile_ErrorNamesLineAndKey(string yaml, string expected)
    {
        var result = EnsembleConfig.Parse(yaml);

        Assert.False(result.IsValid);
        Assert.Null(result.Config);
        Assert.Contains(result.Errors, e => e.ToString().StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_SeveralMistakes_ReportsAllOfThem()
    {
        var result = EnsembleConfig.Parse("version: 1\napply: never\nprojects:\n  - path: a\n    workspce: x\n");

        Assert.Equal(
            ["line 2: apply: expected on-merge or after-merge-approval",
             "line 5: projects[0].workspce: unknown key (did you mean 'workspace'?); expected one of path, dir, name, when_modified, extra_paths, ignore, terraform_version, workspace, depends_on, autoplan, approvers, allow_self_approval"],
            result.Errors.Select(e => e.ToString()));
    }
}
