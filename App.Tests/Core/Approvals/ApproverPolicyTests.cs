using Ensemble.Jobs.Core.Approvals;

namespace Ensemble.Tests.Core.Approvals;

public sealed class ApproverPolicyTests
{
    private static readonly ApproverRequirement Named =
        new(["alice"], ["acme/platform"], false, ".ensemble.yml on main: envs/prod/**");

    private static ApprovalRequest Request(string login, string permission, ApproverRequirement requirement, string author = "dave", params string[] teams) =>
        new(login, permission, teams, author, "envs/prod", requirement);

    public static TheoryData<string, ApprovalRequest, bool> Cases => new()
    {
        { "default rule, write", Request("bob", "write", ApproverRequirement.Default), true },
        { "default rule, maintain", Request("bob", "maintain", ApproverRequirement.Default), true },
        { "default rule, admin", Request("bob", "admin", ApproverRequirement.Default), true },
        { "default rule, legacy push", Request("bob", "push", ApproverRequirement.Default), true },
        { "default rule, triage", Request("bob", "triage", ApproverRequirement.Default), false },
        { "default rule, read", Request("bob", "read", ApproverRequirement.Default), false },
        { "default rule, none", Request("bob", "none", ApproverRequirement.Default), false },
        { "default rule, unknown permission", Request("bob", "superuser", ApproverRequirement.Default), false },
        { "default rule, permission in capitals", Request("bob", "WRITE", ApproverRequirement.Default), true },
        { "author with admin", Request("dave", "admin", ApproverRequirement.Default), false },
        { "author in other case", Request("Dave", "admin", ApproverRequirement.Default, author: "dAVE"), false },
        { "author, self-approval allowed", Request("dave", "write", ApproverRequirement.Default with { AllowSelfApproval = true }), true },
        { "named user", Request("alice", "read", Named), true },
        { "named user, login in other case", Request("ALICE", "read", Named), true },
        { "named user without access", Request("alice", "none", Named), false },
        { "team member", Request("erin", "read", Named, "dave", "acme/platform"), true },
        { "team member, team in other case", Request("erin", "read", Named, "dave", "ACME/Platform"), true },
        { "member of another team", Request("erin", "admin", Named, "dave", "acme/web"), false },
        { "admin outside the named approvers", Request("bob", "admin", Named), false },
        { "named user who is the author", Request("alice", "admin", Named, author: "alice"), false },
        { "named author, self-approval allowed", Request("alice", "read", Named with { AllowSelfApproval = true }, author: "alice"), true },
        { "named with @ in configuration", Request("alice", "read", Named with { Users = ["@alice"], Teams = ["@acme/platform"] }), true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decide_Case_AllowedOrRefused(string scenario, ApprovalRequest request, bool allowed)
    {
        var decision = ApproverPolicy.Decide(request);

        Assert.True(allowed == decision.IsAllowed, scenario);
        if (decision is ApproverDecision.Refused refused)
        {
            Assert.False(string.IsNullOrWhiteSpace(refused.Reason), scenario);
            Assert.Equal(ApproverPolicy.DescribeWhoMayApprove(request.Requirement), refused.WhoMayApprove);
        }
    }

    [Fact]
    public void Decide_UserOutsideNamedApprovers_NamesWhoMayApproveAndWhere()
    {
        var decision = ApproverPolicy.Decide(Request("bob", "admin", Named));

        var refused = Assert.IsType<ApproverDecision.Refused>(decision);
        Assert.Equal(
            "@bob cannot approve `envs/prod`: approvers are @alice or members of @acme/platform (from .ensemble.yml on main\\: envs/prod/\\*\\*).",
            refused.Reason);
    }

    [Fact]
    public void Decide_Author_SaysSelfApprovalIsOff()
    {
        var decision = ApproverPolicy.Decide(Request("alice", "admin", ApproverRequirement.Default, author: "alice"));

        var refused = Assert.IsType<ApproverDecision.Refused>(decision);
        Assert.StartsWith("@alice opened this pull request and cannot approve its plans (allow_self_approval is off).", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_ReadOnlyUser_SaysWhichPermissionIsNeeded()
    {
        var decision = ApproverPolicy.Decide(Request("carol", "read", ApproverRequirement.Default));

        var refused = Assert.IsType<ApproverDecision.Refused>(decision);
        Assert.Equal("@carol has read permission; approving needs write, maintain or admin.", refused.Reason);
    }

    [Fact]
    public void Decide_UnknownPermission_IsEscapedInTheReason()
    {
        var decision = ApproverPolicy.Decide(Request("carol", "<b>x</b>", ApproverRequirement.Default));

        var refused = Assert.IsType<ApproverDecision.Refused>(decision);
        Assert.DoesNotContain("<b>", refused.Reason, StringComparison.Ordinal);
    }

    public static TheoryData<ApproverRequirement, string> Descriptions => new()
    {
        { ApproverRequirement.Default, "anyone with write, maintain or admin permission on the repository, except the pull request's author" },
        { ApproverRequirement.Default with { AllowSelfApproval = true }, "anyone with write, maintain or admin permission on the repository" },
        { new(["alice", "bob", "carol"], [], true, null), "@alice, @bob or @carol" },
        { new([], ["acme/a", "acme/b"], true, null), "members of @acme/a or @acme/b" },
        { Named, "@alice or members of @acme/platform, except the pull request's author" },
        { new(["<img src=x>"], [], true, null), "\\<img src\\=x\\>" },
    };

    [Theory]
    [MemberData(nameof(Descriptions))]
    public void DescribeWhoMayApprove_Requirement_ReadsAsASentence(ApproverRequirement requirement, string expected)
    {
        Assert.Equal(expected, ApproverPolicy.DescribeWhoMayApprove(requirement));
    }

    [Theory]
    [InlineData("admin", RepositoryPermission.Admin)]
    [InlineData("maintain", RepositoryPermission.Maintain)]
    [InlineData("write", RepositoryPermission.Write)]
    [InlineData("triage", RepositoryPermission.Triage)]
    [InlineData("read", RepositoryPermission.Read)]
    [InlineData("pull", RepositoryPermission.Read)]
    [InlineData("none", RepositoryPermission.None)]
    [InlineData("", RepositoryPermission.None)]
    [InlineData(null, RepositoryPermission.None)]
    [InlineData("owner", RepositoryPermission.None)]
    public void ParsePermission_GitHubValue_MapsToLevel(string? value, RepositoryPermission expected)
    {
        Assert.Equal(expected, ApproverPolicy.ParsePermission(value));
    }
}
