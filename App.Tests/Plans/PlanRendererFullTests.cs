using Ensemble.Jobs.Core;
using Ensemble.Jobs.Plans;

namespace Ensemble.Tests.Plans;

public class PlanRendererFullTests
{
    [Fact]
    public void RenderFull_PlanTooBigForACheckRun_EveryAddressAndDiffWithSecretsMasked()
    {
        var plan = PlanFixtures.Load(PlanFixtures.Generated(3_000, mixed: true));
        var context = new PlanRenderContext("big", FullPlanUrl: "https://ensemble.example.com/plans/t");

        var checkRun = PlanRenderer.Render(plan, context);
        var full = PlanRenderer.RenderFull(plan, context);

        Assert.Contains("not shown", checkRun.Text, StringComparison.Ordinal);
        Assert.Equal(checkRun.Title, full.Title);
        Assert.True(full.Text!.Length > CheckRunOutput.MaxLength);
        Assert.DoesNotContain("not shown", full.Summary + full.Text, StringComparison.Ordinal);
        // The page is the full plan: it does not link to itself.
        Assert.DoesNotContain("Full plan:", full.Summary + full.Text, StringComparison.Ordinal);
        for (var i = 0; i < 3_000; i += 499)
        {
            Assert.Contains(PlanFixtures.AddressOf(i), full.Summary, StringComparison.Ordinal);
        }

        Assert.Equal(3_000, full.Text.Split("<details>").Length - 1);
        Assert.DoesNotContain(PlanFixtures.SecretMarker, full.Summary + full.Text, StringComparison.Ordinal);
        Assert.Empty(Markdown.StructureProblems(full.Text));
    }

    [Theory]
    [MemberData(nameof(PlanFixtures.Valid), MemberType = typeof(PlanFixtures))]
    public void RenderFull_PlanThatFits_SameAsTheCheckRun(string fixture)
    {
        var plan = PlanFixtures.Load(fixture);
        var context = new PlanRenderContext("envs/prod");

        var checkRun = PlanRenderer.Render(plan, context);
        if (checkRun.Summary.Contains("not shown", StringComparison.Ordinal) || (checkRun.Text ?? "").Contains("not shown", StringComparison.Ordinal))
        {
            return; // covered above: this plan does not fit
        }

        Assert.Equal(checkRun, PlanRenderer.RenderFull(plan, context));
    }
}
