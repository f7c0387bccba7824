using Ensemble.Jobs.Artifacts;
using Ensemble.Jobs.Core;

namespace Ensemble.Tests.Artifacts;

public class ArtifactKeysTests
{
    private static readonly RepoRef Repo = new(42, "octo-org", "infra.live");
    private const string Sha = "0123456789abcdef0123456789abcdef01234567";

    [Theory]
    [InlineData("envs/prod", "envs/prod")]
    [InlineData(".", "_root")]
    [InlineData("", "_root")]
    [InlineData("/envs/prod/", "envs/prod")]
    [InlineData("my project/é", "my%20project/%C3%A9")]
    [InlineData("a%b", "a%25b")]
    [InlineData("_root", "%5Froot")]
    [InlineData("_root/x", "%5Froot/x")]
    [InlineData("x/_root", "x/_root")]
    [InlineData("stacks/db_main-1.v2~x", "stacks/db_main-1.v2~x")]
    public void For_ProjectPath_EscapesIntoKey(string projectPath, string expectedSegment)
    {
        var key = ArtifactKeys.For(Repo, 7, projectPath, Sha, ArtifactKeys.PlanFile);

        Assert.Equal($"repos/octo-org/infra.live/pulls/7/{Sha}/{expectedSegment}/plan.tfplan", key);
        ArtifactKeys.Validate(key);
    }

    [Fact]
    public void For_UpperCaseSha_IsLowerCased()
    {
        var key = ArtifactKeys.For(Repo, 1, ".", Sha.ToUpperInvariant(), ArtifactKeys.PlanJson);

        Assert.Equal($"repos/octo-org/infra.live/pulls/1/{Sha}/_root/plan.json", key);
    }

    [Fact]
    public void For_Sha256Commit_IsAccepted()
    {
        var sha256 = new string('a', 64);

        Assert.Contains($"/{sha256}/", ArtifactKeys.For(Repo, 1, ".", sha256, ArtifactKeys.PlanLog), StringComparison.Ordinal);
    }

    [Fact]
    public void For_DifferentProjects_GiveDifferentKeys()
    {
        string[] projects = [".", "_root", "a b", "a%20b", "a/b", "a_b", "A/b"];

        var keys = projects.Select(p => ArtifactKeys.For(Repo, 3, p, Sha, ArtifactKeys.PlanFile)).ToList();

        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData("../outside")]
    [InlineData("envs/../../x")]
    [InlineData("envs//prod")]
    [InlineData("./envs")]
    public void For_ProjectPathWithDotSegments_Throws(string projectPath)
    {
        var error = Assert.Throws<ArgumentException>(() => ArtifactKeys.For(Repo, 7, projectPath, Sha, ArtifactKeys.PlanFile));

        Assert.Contains(projectPath, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0123456789abcdef0123456789abcdef0123456z")]
    [InlineData("")]
    public void For_NotAFullSha_Throws(string sha)
    {
        Assert.Throws<ArgumentException>(() => ArtifactKeys.For(Repo, 7, ".", sha, ArtifactKeys.PlanFile));
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("plan file")]
    public void For_UnsafeName_Throws(string name)
    {
        Assert.Throws<ArgumentException>(() => ArtifactKeys.For(Repo, 7, ".", Sha, name));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void For_PullRequestNotPositive_Throws(int pullRequest)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ArtifactKeys.For(Repo, pullRequest, ".", Sha, ArtifactKeys.PlanFile));
    }

    [Fact]
    public void For_OwnerWithSlash_CannotAddSegments()
    {
        var key = ArtifactKeys.For(Repo with { Owner = "a/b" }, 1, ".", Sha, ArtifactKeys.PlanFile);

        Assert.StartsWith("repos/a%2Fb/infra.live/", key, StringComparison.Ordinal);
    }

    [Fact]
    public void For_RepoNameDotDot_Throws()
    {
        Assert.Throws<ArgumentException>(() => ArtifactKeys.For(Repo with { Name = ".." }, 1, ".", Sha, ArtifactKeys.PlanFile));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("repos/o/r/pulls/1/abc/_root/plan.tfplan")]
    [InlineData("x/.hidden")]
    public void Validate_RelativeKey_Accepts(string key)
    {
        ArtifactKeys.Validate(key);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/etc/passwd")]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("a/./b")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData("a\\..\\b")]
    [InlineData("C:/x")]
    [InlineData("a\nb")]
    public void Validate_KeyThatCouldEscape_Throws(string key)
    {
        var error = Assert.Throws<ArgumentException>(() => ArtifactKeys.Validate(key));

        Assert.Contains("Invalid artifact key", error.Message, StringComparison.Ordinal);
    }
}
