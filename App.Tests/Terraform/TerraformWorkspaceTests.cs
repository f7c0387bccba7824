using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

public sealed class TerraformWorkspaceTests
{
    [Fact]
    public void Locate_PlanJobLayout_ReturnsTheRunDirectory()
    {
        var invocation = new TerraformInvocation("/var/ens/workspaces/run-7-2/src/envs/prod", ["plan"], "/var/ens/workspaces/run-7-2/home", "/var/ens/workspaces/run-7-2/tmp");

        Assert.Equal("/var/ens/workspaces/run-7-2", TerraformWorkspace.Locate(invocation, "/var/ens"));
    }

    [Theory]
    [InlineData("/var/ens/workspaces/run-1/src", "/var/ens/home", "/var/ens/workspaces/run-1/tmp")]
    [InlineData("/var/ens/workspaces/run-1/src", "/tmp", "/var/ens/workspaces/run-1/tmp")]
    [InlineData("/var/ens/workspaces/run-1/src", "/var/ens/workspaces/run-2/home", "/var/ens/workspaces/run-1/tmp")]
    public void Locate_DirectoriesSpanningMoreThanOneWorkspace_Throws(string work, string home, string temp)
    {
        var error = Assert.Throws<ArgumentException>(() => TerraformWorkspace.Locate(new TerraformInvocation(work, [], home, temp), "/var/ens"));

        Assert.Contains("/var/ens/workspaces/", error.Message);
    }

    [Theory]
    [InlineData("/a/bc", "/a/b", false)]
    [InlineData("/a/b/c", "/a/b", true)]
    [InlineData("/a/b", "/a/b/", true)]
    [InlineData("/x", "/", true)]
    public void IsSameOrInside_ComparesWholeSegments(string path, string directory, bool expected) =>
        Assert.Equal(expected, TerraformWorkspace.IsSameOrInside(path, directory));
}
