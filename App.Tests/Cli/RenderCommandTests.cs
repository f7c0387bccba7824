using Ensemble.App.Cli;
using Ensemble.Jobs.Plans;
using Ensemble.Tests.Plans;

namespace Ensemble.Tests.Cli;

public class RenderCommandTests
{
    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await RenderCommand.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Fixture(string name) => Path.Combine(PlanFixtures.Directory, name);

    [Theory]
    [MemberData(nameof(PlanFixtures.Valid), MemberType = typeof(PlanFixtures))]
    public async Task RunAsync_RealPlan_PrintsExactlyWhatTheCheckRunShows(string fixture)
    {
        var (code, stdout, stderr) = await Run(Fixture(fixture), "--project", "envs/prod");

        var expected = PlanRenderer.Render(PlanFixtures.Load(fixture), new PlanRenderContext("envs/prod"));
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        var nl = Environment.NewLine;
        Assert.Equal(
            $"=== title ==={nl}{expected.Title}{nl}=== summary ==={nl}{expected.Summary}{nl}=== text ==={nl}" +
            $"{expected.Text ?? "(no text: Ensemble leaves the check run's text empty)"}{nl}",
            stdout);
    }

    [Fact]
    public async Task RunAsync_NoProjectGiven_UsesTheFilesDirectoryName()
    {
        var (code, stdout, _) = await Run(Fixture("tf-basic-create-count.json"));

        Assert.Equal(0, code);
        Assert.Contains("in project `plans`", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_Destroy_ShowsTheDestroyWarning()
    {
        var (code, stdout, _) = await Run("--destroy", Fixture("borchero-1.13-delete.json"));

        Assert.Equal(0, code);
        Assert.Contains("=== title ===" + Environment.NewLine + "Destroy plan:", stdout, StringComparison.Ordinal);
        Assert.Contains("DESTROY PLAN", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(InvalidFixtures))]
    public async Task RunAsync_NotAPlan_OneLineErrorAndExitOne(string fixture)
    {
        var (code, stdout, stderr) = await Run(Fixture(fixture));

        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"render: '{Fixture(fixture)}' is not a plan Ensemble can read: ", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd().Split('\n'));
    }

    public static TheoryData<string> InvalidFixtures() => new(PlanFixtures.Invalid);

    [Fact]
    public async Task RunAsync_MissingFile_OneLineErrorAndExitOne()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-plan-" + Guid.NewGuid().ToString("n") + ".json");

        var (code, _, stderr) = await Run(missing);

        Assert.Equal(1, code);
        Assert.StartsWith($"render: cannot read '{missing}'", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData]
    [InlineData("--project")]
    [InlineData("a.json", "b.json")]
    [InlineData("--colour", "a.json")]
    public async Task RunAsync_BadUsage_ExitTwoWithUsage(params string[] args)
    {
        var (code, stdout, stderr) = await Run(args);

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains(RenderCommand.Usage, stderr, StringComparison.Ordinal);
    }
}
