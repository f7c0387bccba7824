using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ensemble.Tests.TerraformSim;

public sealed class TerraformSimPlanTests : SimTestBase
{
    [Fact]
    public void Plan_NewResource_ExitsTwoAndShowsCreateWithUnknownId()
    {
        _ws.Write("main.tf", Backend + """
            resource "sim_thing" "a" {
              name = "hello" # comment
            }
            """);

        var plan = _ws.InitAndPlan();

        Assert.Equal(2, plan.ExitCode);
        Assert.Contains("  # sim_thing.a will be created", plan.Stdout);
        Assert.Contains("Plan: 1 to add, 0 to change, 0 to destroy.", plan.Stdout);
        var change = Change(_ws.ShowJson(), "sim_thing.a");
        Assert.Equal(["create"], ActionsOf(change));
        Assert.Equal("hello", change["after"]!["name"]!.GetValue<string>());
        Assert.True(change["after_unknown"]!["id"]!.GetValue<bool>());
        Assert.Equal(JsonValueKind.Null, change["before"]?.GetValueKind() ?? JsonValueKind.Null);
    }

    [Fact]
    public void Plan_AfterApply_ExitsZeroWithNoChanges()
    {
        ApplyConfig(Backend + "resource \"sim_thing\" \"a\" {\n  name = \"hello\"\n}\n");

        var replan = _ws.Plan("second");

        Assert.Equal(0, replan.ExitCode);
        Assert.Contains("No changes. Your infrastructure matches the configuration.", replan.Stdout);
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(_ws.Dir, "state", "project.tfstate")))!;
        Assert.Equal(4, state["version"]!.GetValue<int>());
        Assert.Equal(1, state["serial"]!.GetValue<long>());
        Assert.False(string.IsNullOrEmpty(state["resources"]![0]!["instances"]![0]!["attributes"]!["id"]!.GetValue<string>()));
    }

    [Fact]
    public void Apply_NewPlan_PrintsSummaryAndAssignsId()
    {
        _ws.Write("main.tf", "resource \"sim_thing\" \"a\" {}\n");
        _ws.InitAndPlan();

        var apply = _ws.Apply();

        Assert.Equal(0, apply.ExitCode);
        Assert.Contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.", apply.Stdout);
        Assert.Matches(@"sim_thing\.a: Creation complete after 0s \[id=[0-9a-f]{16}\]", apply.Stdout);
        Assert.True(File.Exists(Path.Combine(_ws.Dir, "terraform.tfstate")), "default state path is terraform.tfstate");
    }

    [Fact]
    public void Plan_ChangedAttribute_PlansInPlaceUpdateKeepingId()
    {
        ApplyConfig(Backend + "resource \"sim_thing\" \"a\" {\n  name = \"old\"\n}\n");
        _ws.Write("main.tf", Backend + "resource \"sim_thing\" \"a\" {\n  name = \"new\"\n}\n");

        var plan = _ws.Plan();

        Assert.Equal(2, plan.ExitCode);
        Assert.Contains("~ name = \"old\" -> \"new\"", plan.Stdout);
        var change = Change(_ws.ShowJson(), "sim_thing.a");
        Assert.Equal(["update"], ActionsOf(change));
        Assert.Equal(change["before"]!["id"]!.GetValue<string>(), change["after"]!["id"]!.GetValue<string>());
        Assert.Null(change["replace_paths"]);
    }

    [Theory]
    [InlineData(false, new[] { "delete", "create" })]
    [InlineData(true, new[] { "create", "delete" })]
    public void Plan_ForceNewAttributeChanged_PlansReplaceWithReplacePaths(bool createBeforeDestroy, string[] expected)
    {
        var lifecycle = createBeforeDestroy ? "  lifecycle {\n    create_before_destroy = true\n  }\n" : "";
        ApplyConfig($"resource \"sim_thing\" \"a\" {{\n  force_new_size = 1\n{lifecycle}}}\n");
        _ws.Write("main.tf", $"resource \"sim_thing\" \"a\" {{\n  force_new_size = 2\n{lifecycle}}}\n");

        var plan = _ws.Plan();

        Assert.Equal(2, plan.ExitCode);
        Assert.Contains("# sim_thing.a must be replaced", plan.Stdout);
        Assert.Contains("# forces replacement", plan.Stdout);
        var json = _ws.ShowJson();
        var change = Change(json, "sim_thing.a");
        Assert.Equal(expected, ActionsOf(change));
        Assert.Equal("[[\"force_new_size\"]]", change["replace_paths"]!.ToJsonString());
        Assert.True(change["after_unknown"]!["id"]!.GetValue<bool>());
        var entry = json["resource_changes"]!.AsArray().Single()!;
        Assert.Equal("replace_because_cannot_update", entry["action_reason"]!.GetValue<string>());
    }

    [Fact]
    public void Plan_SimReplaceAnyAttributeChanged_PlansReplace()
    {
        ApplyConfig("resource \"sim_replace\" \"r\" {\n  size = 1\n}\n");
        _ws.Write("main.tf", "resource \"sim_replace\" \"r\" {\n  size = 2\n}\n");

        _ws.Plan();

        Assert.Equal(["delete", "create"], ActionsOf(Change(_ws.ShowJson(), "sim_replace.r")));
    }

    [Fact]
    public void Plan_ResourceRemovedFromConfig_PlansDelete()
    {
        ApplyConfig("resource \"sim_thing\" \"a\" {}\nresource \"sim_thing\" \"b\" {}\n");
        _ws.Write("main.tf", "resource \"sim_thing\" \"a\" {}\n");

        var plan = _ws.Plan();

        Assert.Equal(2, plan.ExitCode);
        Assert.Contains("# sim_thing.b will be destroyed", plan.Stdout);
        var json = _ws.ShowJson();
        Assert.Equal(["delete"], ActionsOf(Change(json, "sim_thing.b")));
        Assert.Equal(["no-op"], ActionsOf(Change(json, "sim_thing.a")));
        Assert.Equal(JsonValueKind.False, Change(json, "sim_thing.b")["after_sensitive"]!.GetValueKind());
    }

    [Fact]
    public void PlanDestroy_AppliedResources_DeletesAllAndApplyEmptiesState()
    {
        ApplyConfig("resource \"sim_thing\" \"a\" {}\nresource \"sim_thing\" \"b\" {}\noutput \"o\" {\n  value = \"x\"\n}\n");

        var plan = _ws.Plan("destroy", "-destroy");

        Assert.Equal(2, plan.ExitCode);
        var json = _ws.ShowJson("destroy");
        Assert.All(json["resource_changes"]!.AsArray(), c => Assert.Equal(["delete"], ActionsOf(c!["change"]!.AsObject())));
        Assert.Equal(["delete"], json["output_changes"]!["o"]!["actions"]!.AsArray().Select(a => a!.GetValue<string>()));
        var apply = _ws.Apply("destroy");
        Assert.Contains("Destroy complete! Resources: 2 destroyed.", apply.Stdout);
        Assert.Equal(0, _ws.Plan("again", "-destroy").ExitCode);
    }

    [Fact]
    public void Plan_NestedLocalModules_AddressesResourcesWithModulePath()
    {
        _ws.Write("main.tf", "module \"net\" {\n  source = \"./modules/net\"\n  cidr = \"10.0.0.0/16\"\n}\n")
            .Write("modules/net/main.tf", "variable \"cidr\" {}\nresource \"sim_vpc\" \"main\" {\n  cidr = var.cidr\n}\nmodule \"sub\" {\n  source = \"../sub\"\n}\n")
            .Write("modules/sub/main.tf", "resource \"sim_subnet\" \"s\" {\n  name = \"x\"\n}\n");

        var plan = _ws.InitAndPlan();

        Assert.Equal(2, plan.ExitCode);
        var json = _ws.ShowJson();
        var vpc = json["resource_changes"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == "sim_vpc")!;
        Assert.Equal("module.net.sim_vpc.main", vpc["address"]!.GetValue<string>());
        Assert.Equal("module.net", vpc["module_address"]!.GetValue<string>());
        Assert.Equal("10.0.0.0/16", vpc["change"]!["after"]!["cidr"]!.GetValue<string>());
        Assert.Equal(["create"], ActionsOf(Change(json, "module.net.module.sub.sim_subnet.s")));
        var nested = json["planned_values"]!["root_module"]!["child_modules"]![0]!["child_modules"]![0]!;
        Assert.Equal("module.net.module.sub", nested["address"]!.GetValue<string>());
    }
}
