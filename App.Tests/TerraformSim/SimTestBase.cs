using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ensemble.Tests.TerraformSim;

/// <summary>Drives the real terraform-sim process the way Ensemble drives terraform; one temp workspace per test.</summary>
/// <remarks>Tests are split over several classes so xunit runs them in parallel: each case starts real processes.</remarks>
public abstract class SimTestBase : IDisposable
{
    protected const string Backend = """
        terraform {
          backend "local" { path = "state/project.tfstate" }
        }

        """;

    protected readonly SimWorkspace _ws = new();

    public void Dispose()
    {
        _ws.Dispose();
        GC.SuppressFinalize(this);
    }

    protected static JsonObject Change(JsonObject plan, string address) =>
        plan["resource_changes"]!.AsArray().Single(c => c!["address"]!.GetValue<string>() == address)!["change"]!.AsObject();

    protected static string[] ActionsOf(JsonObject change) => [.. change["actions"]!.AsArray().Select(a => a!.GetValue<string>())];

    protected void ApplyConfig(string config)
    {
        _ws.Write("main.tf", config);
        var plan = _ws.InitAndPlan();
        Assert.True(plan.ExitCode == 2, plan.Stderr);
        var apply = _ws.Apply();
        Assert.True(apply.ExitCode == 0, apply.Stderr);
    }
}
