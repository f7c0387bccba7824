using Ensemble.Jobs.Config;

namespace Ensemble.Tests.Config;

public class EffectiveConfigTests
{
    private const string DefaultBranch = """
        version: 1
        apply: after-merge-approval
        approvers:
          - paths: ["envs/prod/**"]
            teams: ["acme/platform"]
        projects:
          - path: envs/prod/app
            workspace: blue
        """;

    [Fact]
    public void Merge_PullRequestAddsItsAuthorAsApprover_NoEffectUntilMerged()
    {
        var head = """
            version: 1
            apply: on-merge
            approvers:
              - paths: ["envs/prod/**"]
                teams: ["acme/platform"]
                users: [mallory]
            projects:
              - path: envs/prod/app
                workspace: green
                approvers: {users: [mallory]}
                allow_self_approval: true
            """;

        var config = EffectiveConfig.Merge(EnsembleConfig.Parse(DefaultBranch), EnsembleConfig.Parse(head));

        Assert.True(config.IsValid);
        var policy = config.ApprovalFor("envs/prod/app");
        Assert.Equal(["acme/platform"], policy.Teams);
        Assert.Empty(policy.Users);
        Assert.False(policy.AllowSelfApproval);
        Assert.Equal(ApplyMode.AfterMergeApproval, config.Apply);
        Assert.Null(config.FindProject("envs/prod/app")!.Approvers);
        Assert.Contains(config.Notices, n => n.Contains("changes `approvers`", StringComparison.Ordinal));
        Assert.Contains(config.Notices, n => n.Contains("who may approve envs/prod/app", StringComparison.Ordinal));
        Assert.Contains(config.Notices, n => n.Contains("changes `apply`", StringComparison.Ordinal));
    }

    [Fact]
    public void Merge_PlanShapingKeys_ComeFromTheHead()
    {
        var head = DefaultBranch.Replace("workspace: blue", "workspace: green\n    autoplan: false", StringComparison.Ordinal) +
                   "\nignore: [\"docs/**\"]\n";

        var config = EffectiveConfig.Merge(EnsembleConfig.Parse(DefaultBranch), EnsembleConfig.Parse(head));

        Assert.Empty(config.Errors);
        Assert.Empty(config.Notices);
        Assert.Equal("green", config.FindProject("envs/prod/app")!.Workspace);
        Assert.False(config.FindProject("envs/prod/app")!.Autoplan);
        Assert.Equal(["docs/**"], config.Ignore.Select(g => g.Pattern));
    }

    [Fact]
    public void ApprovalFor_ProjectEntryWins_ElseEveryMatchingRule_ElseDefault()
    {
        var file = """
            version: 1
            approvers:
              - paths: ["envs/prod/**"]
                teams: ["acme/platform"]
              - paths: ["envs/*/payments"]
                users: [alice]
            projects:
              - path: envs/prod/dns
                approvers: {users: [carol]}
                allow_self_approval: true
            """;
        var config = EffectiveConfig.Merge(EnsembleConfig.Parse(file), EnsembleConfig.Parse(file));

        var dns = config.ApprovalFor("envs/prod/dns");
        Assert.Equal(["carol"], dns.Users);
        Assert.Empty(dns.Teams);
        Assert.True(dns.AllowSelfApproval);

        var payments = config.ApprovalFor("envs/prod/payments");
        Assert.Equal(["alice"], payments.Users);
        Assert.Equal(["acme/platform"], payments.Teams);
        Assert.False(payments.AllowSelfApproval);

        Assert.True(config.ApprovalFor("envs/prod").IsRestricted);
        Assert.False(config.ApprovalFor("envs/staging/app").IsRestricted);
    }

    [Fact]
    public void Merge_InvalidHead_ErrorsNameTheFileLineAndKey()
    {
        var config = EffectiveConfig.Merge(ConfigResult.Missing, EnsembleConfig.Parse("version: 1\nprojects:\n  - path: a\n    depends_on: a\n"));

        Assert.False(config.IsValid);
        Assert.Equal([".ensemble.yml in the pull request, line 4: projects[0].depends_on: expected a list of project paths"], config.Errors);
    }

    [Fact]
    public void Merge_InvalidDefaultBranchFile_PlansNothingRatherThanFallingBackToDefaults()
    {
        var config = EffectiveConfig.Merge(EnsembleConfig.Parse("version: 1\naprovers: []\n"), EnsembleConfig.Parse(DefaultBranch));

        Assert.False(config.IsValid);
        Assert.StartsWith(".ensemble.yml on the default branch, line 2: aprovers: unknown key", Assert.Single(config.Errors), StringComparison.Ordinal);
    }
}
