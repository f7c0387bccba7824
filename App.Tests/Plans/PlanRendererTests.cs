using System.Text;
using Ensemble.Jobs.Core;
using Ensemble.Jobs.Plans;

namespace Ensemble.Tests.Plans;

public class PlanRendererTests
{
    public static TheoryData<string> ValidFixtures() => PlanFixtures.Valid();

    private static string Whole(CheckRunOutput output) => $"{output.Title}\n{output.Summary}\n{output.Text}";

    private static void AssertWithinLimitsAndBalanced(CheckRunOutput output)
    {
        Assert.InRange(output.Summary.Length, 1, CheckRunOutput.MaxLength);
        Assert.InRange(output.Text?.Length ?? 0, 0, CheckRunOutput.MaxLength);
        Assert.Empty(Markdown.StructureProblems(output.Summary));
        Assert.Empty(Markdown.StructureProblems(output.Text ?? ""));
    }

    [Theory]
    [MemberData(nameof(ValidFixtures))]
    public void Render_RealPlan_MatchesGoldenFile(string fixture)
    {
        var output = PlanRenderer.Render(PlanFixtures.Load(fixture), new PlanRenderContext("infra/" + Path.GetFileNameWithoutExtension(fixture)));
        var rendered = $"<!-- title -->\n{output.Title}\n\n<!-- summary -->\n{output.Summary}\n\n<!-- text -->\n{output.Text}\n";
        var golden = Path.Combine(PlanFixtures.SourceDirectory(), "Golden", Path.ChangeExtension(fixture, ".md"));

        AssertWithinLimitsAndBalanced(output);
        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(golden, rendered);
            return;
        }

        Assert.True(File.Exists(golden), $"No golden file {golden}; run the tests with UPDATE_GOLDEN=1 and review it.");
        Assert.Equal(File.ReadAllText(golden), rendered);
    }

    [Theory]
    [InlineData("borchero-1.13-create-heredoc.json", "foo-42")]
    [InlineData("ovsds-1.7-sensitive-replace.json", "87193988")]
    [InlineData("ovsds-1.7-sensitive-replace.json", "hxk5iA==")]
    public void Render_SensitiveValue_NeverShown(string fixture, string secret)
    {
        var output = PlanRenderer.Render(PlanFixtures.Load(fixture), new PlanRenderContext("p"));

        Assert.DoesNotContain(secret, Whole(output), StringComparison.Ordinal);
        Assert.Contains("(sensitive)", Whole(output), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_SensitiveOutput_ShowsMarkerNotValue()
    {
        var output = PlanRenderer.Render(PlanFixtures.Load("tfjson-1.1-sensitive-values.json"), new PlanRenderContext("p"));

        Assert.Contains("- + `foo` = `(sensitive)`", output.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_NestedSensitiveInList_MasksOnlyThatPart()
    {
        var plan = PlanDocument.Parse("""
            {"format_version":"1.2","resource_changes":[{"address":"a.b","type":"a","name":"b","change":{
              "actions":["create"],"before":null,"after":{"rules":[{"cidr":"10.0.0.0/8","token":"hunter2"}]},
              "after_unknown":{},"before_sensitive":false,"after_sensitive":{"rules":[{"token":true}]}}}],
             "output_changes":{"o":{"actions":["create"],"before":null,"after":{"k":"hunter2","v":1},"after_unknown":false,"before_sensitive":false,"after_sensitive":{"k":true}}}}
            """).Plan!;

        var output = PlanRenderer.Render(plan, new PlanRenderContext("p"));

        Assert.DoesNotContain("hunter2", Whole(output), StringComparison.Ordinal);
        Assert.Contains("+ rules[0].cidr = \"10.0.0.0/8\"\n+ rules[0].token = (sensitive)\n", output.Text, StringComparison.Ordinal);
        Assert.Contains("`{\"k\":(sensitive),\"v\":1}`", output.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Replace_ShowsReasonAndForcingPath()
    {
        var output = PlanRenderer.Render(PlanFixtures.Load("ovsds-1.7-sensitive-replace.json"), new PlanRenderContext("p"));

        Assert.Equal("Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy", output.Title);
        Assert.StartsWith("**+0 to add, ~0 to change, ±1 to replace, −0 to destroy**", output.Summary, StringComparison.Ordinal);
        Assert.Contains("`random_bytes.test`: **replace** (destroy, then create) because it cannot be updated in place; forced by `length`", output.Summary, StringComparison.Ordinal);
        Assert.Contains("~ length = 4 → 8   # forces replacement", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_NoChanges_SaysSoWithoutText()
    {
        var output = PlanRenderer.Render(PlanFixtures.Load("borchero-1.13-no-changes.json"), new PlanRenderContext("envs/prod"));

        Assert.Equal("No changes", output.Title);
        Assert.Contains("**No changes.**", output.Summary, StringComparison.Ordinal);
        Assert.Null(output.Text);
    }

    [Fact]
    public void Render_DestroyPlan_HasLoudBanner()
    {
        var output = PlanRenderer.Render(PlanFixtures.Load("borchero-1.13-delete.json"), new PlanRenderContext("envs/old", Destroy: true));

        Assert.StartsWith("Destroy plan:", output.Title, StringComparison.Ordinal);
        Assert.Contains("DESTROY PLAN: applying it destroys every resource that project `envs/old` manages", output.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Drift_IsLabelledAsOutsideTerraform()
    {
        var output = PlanRenderer.Render(PlanFixtures.Load("tf-resource-drift.json"), new PlanRenderContext("p"));

        Assert.Contains("Drift: changed outside Terraform", output.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_HeredocChange_IsLineDiff()
    {
        var plan = PlanDocument.Parse("""
            {"format_version":"1.2","resource_changes":[{"address":"local_file.f","type":"local_file","name":"f","change":{
              "actions":["update"],"before":{"content":"one\ntwo\nthree\n"},"after":{"content":"one\n2\nthree\n"},
              "after_unknown":{},"before_sensitive":{},"after_sensitive":{}}}]}
            """).Plan!;

        var text = PlanRenderer.Render(plan, new PlanRenderContext("p")).Text!;

        Assert.Contains("~ content = <<EOT\n      one\n-     two\n+     2\n      three\n  EOT\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_JsonInString_IsPrettyPrintedAndDiffed()
    {
        var plan = PlanDocument.Parse("""
            {"format_version":"1.2","resource_changes":[{"address":"aws_iam_policy.p","type":"aws_iam_policy","name":"p","change":{
              "actions":["update"],"before":{"policy":"{\"Effect\":\"Allow\",\"Action\":\"s3:*\"}"},"after":{"policy":"{\"Effect\":\"Deny\",\"Action\":\"s3:*\"}"},
              "after_unknown":{},"before_sensitive":{},"after_sensitive":{}}}]}
            """).Plan!;

        var text = PlanRenderer.Render(plan, new PlanRenderContext("p")).Text!;

        Assert.Contains("-       \"Effect\": \"Allow\",\n+       \"Effect\": \"Deny\",", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_HostileAddressAndValues_AreEscaped()
    {
        var plan = PlanDocument.Parse("""
            {"format_version":"1.2","resource_changes":[{"address":"aws_instance.web[\"a<b>`x</details>\"]","type":"aws_instance","name":"web","change":{
              "actions":["create"],"before":null,"after":{"note":"```\n</details>\n<script>alert(1)</script>\n```"},
              "after_unknown":{},"before_sensitive":false,"after_sensitive":{}}}]}
            """).Plan!;

        var output = PlanRenderer.Render(plan, new PlanRenderContext("p"));

        Assert.Contains("<code>aws_instance.web[&quot;a&lt;b&gt;`x&lt;/details&gt;&quot;]</code>", output.Text, StringComparison.Ordinal);
        Assert.Contains("``aws_instance.web[\"a<b>`x</details>\"]``", output.Summary, StringComparison.Ordinal);
        AssertWithinLimitsAndBalanced(output);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Render_TenThousandResources_FitsHidesSecretsAndSaysWhatIsLeftOut(bool mixed)
    {
        var plan = PlanDocument.Parse(PlanFixtures.TenThousand(mixed)).Plan!;

        var output = PlanRenderer.Render(plan, new PlanRenderContext("big", FullPlanUrl: "https://ensemble.example/plans/1"));

        AssertWithinLimitsAndBalanced(output);
        Assert.DoesNotContain(PlanFixtures.SecretMarker, Whole(output), StringComparison.Ordinal);
        Assert.Contains("Full plan: https://ensemble.example/plans/1", output.Summary, StringComparison.Ordinal);
        Assert.Contains("Full plan: https://ensemble.example/plans/1", output.Text, StringComparison.Ordinal);
        Assert.Matches(@"… [\d,]+ resource diffs not shown", output.Text!);
        if (mixed)
        {
            Assert.StartsWith("**+3,334 to add, ~0 to change, ±3,333 to replace, −3,333 to destroy, 1 output change**", output.Summary, StringComparison.Ordinal);
            Assert.Matches(@"… [\d,]+ create addresses not shown", output.Summary);
        }
        else
        {
            Assert.Matches(@"… 8,[\d]{3} create addresses not shown", output.Summary);
            Assert.Contains("**+10,000 to add", output.Summary, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Render_DestroysBesideManyCreates_KeepsEveryDestroyWithReasonAndDropsCreateAddresses()
    {
        var plan = PlanDocument.Parse(PlanFixtures.Generated(3_300, i => i < 300 ? 2 : 0)).Plan!;

        var output = PlanRenderer.Render(plan, new PlanRenderContext("big"));

        AssertWithinLimitsAndBalanced(output);
        foreach (var change in plan.ResourceChanges.Where(c => c.Action == PlanAction.Delete))
        {
            Assert.Contains($"{Markdown.Code(change.Address)}: **destroy** because it was removed from the configuration", output.Summary, StringComparison.Ordinal);
        }

        Assert.Matches(@"… [\d,]+ create addresses not shown", output.Summary);
        Assert.Contains("**+3,000 to add", output.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_TooManyDestroysForReasons_KeepsAddressesWithoutReasons()
    {
        // 550 replaces and 550 destroys: with reasons they would not fit, as bare addresses they do.
        var plan = PlanDocument.Parse(PlanFixtures.Generated(1_650, mixed: true)).Plan!;

        var output = PlanRenderer.Render(plan, new PlanRenderContext("big"));

        AssertWithinLimitsAndBalanced(output);
        Assert.Contains("reasons left out", output.Summary, StringComparison.Ordinal);
        foreach (var change in plan.ResourceChanges.Where(c => c.Action is PlanAction.Delete or PlanAction.Replace))
        {
            Assert.Contains(Markdown.Code(change.Address), output.Summary, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Render_HugeSingleValue_StaysBoundedAndShowsOtherResources()
    {
        var huge = new string('x', 200_000);
        const string head = "{\"format_version\":\"1.2\",\"resource_changes\":[{\"address\":\"a.one\",\"type\":\"a\",\"name\":\"one\",\"change\":{\"actions\":[\"create\"],\"before\":null,\"after\":{\"blob\":\"";
        const string tail = "\"},\"after_unknown\":{}}},{\"address\":\"a.two\",\"type\":\"a\",\"name\":\"two\",\"change\":{\"actions\":[\"create\"],\"before\":null,\"after\":{\"v\":\"small\"},\"after_unknown\":{}}}]}";
        var plan = PlanDocument.Parse(head + huge + tail).Plan!;

        var output = PlanRenderer.Render(plan, new PlanRenderContext("p"));

        AssertWithinLimitsAndBalanced(output);
        Assert.Contains("a.two", output.Text, StringComparison.Ordinal);
        Assert.Contains("(200,002 characters)", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void RenderFailure_PlanError_ShowsErrorBoxLogTailAndRerun()
    {
        var log = """
            Initializing plugins...
            \u001b[31mPlanning failed.\u001b[0m
            ╷
            │ Error: Unsupported argument
            │ 
            │   on main.tf line 3, in resource "null_resource" "x":
            │    3:   foo = 1
            │ 
            │ An argument named "foo" is not expected here.
            ╵
            ```
            not a fence breaker
            """.Replace("\\u001b", "\u001b", StringComparison.Ordinal);

        var output = PlanRenderer.RenderFailure("envs/prod", "plan", log, "/ensemble replan envs/prod");

        Assert.Equal("terraform plan failed", output.Title);
        Assert.Contains("Error: Unsupported argument\n\n  on main.tf line 3, in resource \"null_resource\" \"x\":", output.Summary, StringComparison.Ordinal);
        Assert.Contains("`/ensemble replan envs/prod`", output.Summary, StringComparison.Ordinal);
        Assert.Contains("````text\n", output.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b", output.Text, StringComparison.Ordinal);
        AssertWithinLimitsAndBalanced(output);
    }

    [Theory]
    [InlineData("Invalid value for \"path\" parameter: no file exists at \"../../shared/prod.json\"; this function works only with files that are distributed as part of the configuration source code")]
    [InlineData("Unreadable module directory")]
    public void RenderFailure_MissingFile_SaysWhatIsCheckedOutAndHowToAddMore(string message)
    {
        var log = $"╷\n│ Error: {message}\n│ \n│   on main.tf line 3:\n╵\n";

        var output = PlanRenderer.RenderFailure("envs/prod", "plan", log, "/ensemble replan envs/prod");
        var root = PlanRenderer.RenderFailure(".", "plan", log, "/ensemble replan .");
        var other = PlanRenderer.RenderFailure("envs/prod", "plan", "╷\n│ Error: Unsupported argument\n╵\n", "/ensemble replan envs/prod");

        Assert.Contains("`extra_paths` in `.ensemble.yml`", output.Summary, StringComparison.Ordinal);
        Assert.DoesNotContain("extra_paths", root.Summary, StringComparison.Ordinal); // the root project has the whole tree
        Assert.DoesNotContain("extra_paths", other.Summary, StringComparison.Ordinal);
        AssertWithinLimitsAndBalanced(output);
    }

    [Fact]
    public void RenderFailure_HugeLogWithoutBox_KeepsTailWithinLimit()
    {
        var log = new StringBuilder();
        for (var i = 0; i < 20_000; i++)
        {
            log.Append("line ").Append(i).Append('\n');
        }

        log.Append("Error: Failed to query available provider packages\n\nCould not retrieve the list of versions.\n");

        var output = PlanRenderer.RenderFailure("p", "init", log.ToString(), "/ensemble replan p");

        AssertWithinLimitsAndBalanced(output);
        Assert.Contains("Error: Failed to query available provider packages\n\nCould not retrieve", output.Summary, StringComparison.Ordinal);
        Assert.EndsWith("Could not retrieve the list of versions.\n```", output.Text, StringComparison.Ordinal);
        Assert.Contains("earlier characters not shown", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void StructureProblems_UnclosedFenceOrDetails_AreReported()
    {
        Assert.NotEmpty(Markdown.StructureProblems("```diff\n+ a\n"));
        Assert.NotEmpty(Markdown.StructureProblems("<details><summary>x</summary>\n\nbody\n"));
        Assert.Empty(Markdown.StructureProblems("<details><summary>x</summary>\n\n```\nbody\n```\n\n</details>"));
    }
}
