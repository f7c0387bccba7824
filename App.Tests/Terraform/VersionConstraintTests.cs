using Ensemble.Jobs.Terraform;

namespace Ensemble.Tests.Terraform;

public sealed class VersionConstraintTests
{
    [Theory]
    [InlineData("1.9.8", "1.9.8", true)]
    [InlineData("= 1.9.8", "1.9.7", false)]
    [InlineData("!= 1.9.8", "1.9.8", false)]
    [InlineData("!= 1.9.8", "1.9.9", true)]
    [InlineData("> 1.5", "1.5.0", false)]
    [InlineData("> 1.5", "1.5.1", true)]
    [InlineData(">= 1.5", "1.5.0", true)]
    [InlineData(">= 1.5", "1.4.9", false)]
    [InlineData("< 2.0", "1.99.0", true)]
    [InlineData("< 2.0", "2.0.0", false)]
    [InlineData("<= 1.9.8", "1.9.8", true)]
    [InlineData("<= 1.9.8", "1.9.9", false)]
    [InlineData("~> 1.9.0", "1.9.8", true)]
    [InlineData("~> 1.9.0", "1.10.0", false)]
    [InlineData("~> 1.9", "1.12.3", true)]
    [InlineData("~> 1.9", "2.0.0", false)]
    [InlineData("~> 1.9", "1.8.9", false)]
    [InlineData("~> 1", "3.0.0", true)]
    [InlineData(">= 1.5, < 2.0", "1.9.8", true)]
    [InlineData(">= 1.5, < 2.0", "2.1.0", false)]
    [InlineData(">=1.5,<1.9,!=1.7.0", "1.7.0", false)]
    [InlineData(">=1.5,<1.9,!=1.7.0", "1.7.1", true)]
    [InlineData(">= 1.5", "1.10.0-beta1", false)]
    [InlineData("1.10.0-beta1", "1.10.0-beta1", true)]
    [InlineData("v1.9.8", "1.9.8", true)]
    public void Allows_Table(string constraint, string version, bool expected) =>
        Assert.Equal(expected, VersionConstraint.Parse(constraint).Allows(ToolVersion.TryParse(version)!));

    [Theory]
    [InlineData(">= one")]
    [InlineData("")]
    [InlineData(">= 1.5,")]
    [InlineData("1.2.3.4")]
    public void TryParse_NotAConstraint_ExplainsWhy(string text)
    {
        Assert.Null(VersionConstraint.TryParse(text, out var error));
        Assert.Contains("not a version constraint", error);
    }
}
