using Ensemble.Jobs.Core.Approvals;

namespace Ensemble.Tests.Core.Approvals;

public sealed class MarkdownTextTests
{
    [Theory]
    [InlineData("envs/prod-1.x,y", "envs/prod-1.x,y")]
    [InlineData("`id`", "\\`id\\`")]
    [InlineData("[a](b)", "\\[a\\]\\(b\\)")]
    [InlineData("<b>", "\\<b\\>")]
    [InlineData("@team", "\\@team")]
    [InlineData("a|b", "a\\|b")]
    [InlineData("a\\b", "a\\\\b")]
    [InlineData("https://x", "https\\://x")]
    [InlineData("a\u202Eb", "a\uFFFDb")]
    [InlineData("a\u200Bb", "a\uFFFDb")]
    [InlineData("a\nb\0c", "a\uFFFDb\uFFFDc")]
    [InlineData("ünï 💥", "ünï 💥")]
    public void Escape_Text_RendersAsPlainText(string text, string expected)
    {
        Assert.Equal(expected, MarkdownText.Escape(text));
    }

    [Fact]
    public void Escape_LongText_CutWithEllipsis()
    {
        Assert.Equal("aaaaa…", MarkdownText.Escape(new string('a', 1000), 5));
    }

    [Theory]
    [InlineData("envs/prod", "`envs/prod`")]
    [InlineData("we`ird", "we\\`ird")]
    [InlineData("pröd", "pröd")]
    public void Code_Text_CodeSpanOnlyWhenSafe(string text, string expected)
    {
        Assert.Equal(expected, MarkdownText.Code(text));
    }
}
