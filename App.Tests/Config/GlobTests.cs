using Ensemble.Jobs.Config;

namespace Ensemble.Tests.Config;

public class GlobTests
{
    [Theory]
    [InlineData("docs/**", "docs", true)]
    [InlineData("docs/**", "docs/a/b.md", true)]
    [InlineData("docs/**", "docsx/a.md", false)]
    [InlineData("**/*.md", "README.md", true)]
    [InlineData("**/*.md", "a/b/c.md", true)]
    [InlineData("**/*.md", "a/b/c.mdx", false)]
    [InlineData("envs/*/main.tf", "envs/prod/main.tf", true)]
    [InlineData("envs/*/main.tf", "envs/prod/x/main.tf", false)]
    [InlineData("modules/**/*.tf", "modules/a.tf", true)]
    [InlineData("modules/**/*.tf", "modules/x/y/a.tf", true)]
    [InlineData("*.{tf,tfvars}", "a.tfvars", true)]
    [InlineData("*.{tf,tfvars}", "a.json", false)]
    [InlineData("env[0-9]/a", "env3/a", true)]
    [InlineData("env[!0-9]/a", "env3/a", false)]
    [InlineData("a?c", "abc", true)]
    [InlineData("a?c", "a/c", false)]
    [InlineData("a.b", "aXb", false)]
    public void IsMatch_Pattern_MatchesLikeShellGlobs(string pattern, string path, bool expected) =>
        Assert.Equal(expected, Glob.Parse(pattern).IsMatch(path));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("/docs/**", "must not start with '/'")]
    [InlineData("../shared/*.json", "'..' segments are not allowed")]
    [InlineData("docs//x", "empty path segment")]
    [InlineData("a**/b", "whole path segment")]
    [InlineData("env[0-9/a", "unclosed '['")]
    [InlineData("*.{tf,tfvars", "unclosed '{'")]
    [InlineData("a\\b", "'\\' is not allowed")]
    public void TryParse_InvalidGlob_ExplainsWhy(string pattern, string expected)
    {
        Assert.False(Glob.TryParse(pattern, out var glob, out var error));
        Assert.Null(glob);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
