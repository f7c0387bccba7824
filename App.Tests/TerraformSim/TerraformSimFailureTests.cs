using System.Text.Json.Nodes;

namespace Ensemble.Tests.TerraformSim;

public sealed class TerraformSimFailureTests : SimTestBase
{
    [Fact]
    public void Plan_SimFail_ExitsOneWithFileAndLineOnStderr()
    {
        _ws.Write("main.tf", "resource \"sim_thing\" \"ok\" {}\n\nresource \"sim_fail\" \"x\" {\n  message = \"quota exceeded\"\n}\n");

        var plan = _ws.InitAndPlan();

        Assert.Equal(1, plan.ExitCode);
        Assert.Contains("Error: quota exceeded", plan.Stderr);
        Assert.Contains("on main.tf line 3, in resource \"sim_fail\" \"x\":", plan.Stderr);
        Assert.False(File.Exists(Path.Combine(_ws.Dir, "tfplan")), "a failed plan must not leave a plan file");
    }

    [Fact]
    public void Apply_SimApplyFail_ExitsOneAndKeepsOtherResources()
    {
        _ws.Write("main.tf", "resource \"sim_apply_fail\" \"x\" {}\nresource \"sim_thing\" \"ok\" {}\n");
        Assert.Equal(2, _ws.InitAndPlan().ExitCode);

        var apply = _ws.Apply();

        Assert.Equal(1, apply.ExitCode);
        Assert.Contains("Error: Simulated apply failure", apply.Stderr);
        Assert.Contains("on main.tf line 1, in resource \"sim_apply_fail\" \"x\":", apply.Stderr);
        _ws.Plan("after");
        var json = _ws.ShowJson("after");
        Assert.Equal(["create"], ActionsOf(Change(json, "sim_apply_fail.x")));
        Assert.Equal(["no-op"], ActionsOf(Change(json, "sim_thing.ok")));
    }

    [Fact]
    public void Apply_PlanMadeBeforeAnotherApply_FailsAsStale()
    {
        _ws.Write("main.tf", Backend + "resource \"sim_thing\" \"a\" {}\n");
        _ws.InitAndPlan("planA");
        _ws.Plan("planB");
        Assert.Equal(0, _ws.Apply("planA").ExitCode);

        var stale = _ws.Apply("planB");

        Assert.Equal(1, stale.ExitCode);
        Assert.Contains("Saved plan is stale", stale.Stderr);
        Assert.Equal(1, JsonNode.Parse(File.ReadAllText(Path.Combine(_ws.Dir, "state", "project.tfstate")))!["serial"]!.GetValue<long>());
    }

    [Fact]
    public void Plan_WithoutInit_FailsAskingForInit()
    {
        _ws.Write("main.tf", Backend + "resource \"sim_thing\" \"a\" {}\n");

        var plan = _ws.Plan();

        Assert.Equal(1, plan.ExitCode);
        Assert.Contains("Backend initialization required, please run \"terraform init\"", plan.Stderr);
    }

    [Fact]
    public void Plan_BackendChangedSinceInit_FailsAskingForInit()
    {
        _ws.Write("main.tf", Backend + "resource \"sim_thing\" \"a\" {}\n");
        _ws.InitAndPlan();
        _ws.Write("main.tf", "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n}\nresource \"sim_thing\" \"a\" {}\n");

        var plan = _ws.Plan();

        Assert.Equal(1, plan.ExitCode);
        Assert.Contains("Backend initialization required", plan.Stderr);
        Assert.Equal(0, _ws.Run("init", "-input=false").ExitCode);
        Assert.Equal(2, _ws.Plan().ExitCode);
    }

    [Theory]
    [InlineData("resource \"sim_thing\" \"a\" {\n  name = \n}\n", "Invalid expression", 2)]
    [InlineData("resource \"sim_thing\" \"a\" {\n  name = \"x\"\n", "Unclosed configuration block", 1)]
    [InlineData("resource \"sim_thing\" \"a\" {\n  name = \"unterminated\n}\n", "Unterminated template string", 2)]
    [InlineData("resource \"sim_thing\" \"a\" {\n  name = upper(\"x\")\n}\n", "Unsupported expression", 2)]
    public void Plan_InvalidConfiguration_ReportsDiagnosticWithLine(string config, string summary, int line)
    {
        _ws.Write("main.tf", config);

        // Syntax errors stop init (it parses everything); evaluation errors surface at plan.
        var init = _ws.Run("init", "-input=false");
        var failed = init.ExitCode != 0 ? init : _ws.Plan();

        Assert.Equal(1, failed.ExitCode);
        Assert.Contains($"Error: {summary}", failed.Stderr);
        Assert.Contains($"on main.tf line {line}", failed.Stderr);
    }
}
