using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ensemble.Tests.TerraformSim;

public sealed class TerraformSimCliTests : SimTestBase
{
    [Fact]
    public void Plan_LanguageSubset_EvaluatesHeredocsEscapesCollectionsAndVariables()
    {
        _ws.Write("main.tf", """
            variable "env" {
              default = "prod"
            }
            /* block comment
               spanning lines */
            resource "sim_thing" "a" {
              // line comment
              greeting = "tab\there \"quoted\" ${var.env}"
              literal  = "$${not_interpolated}"
              script   = <<-EOT
                echo one
                  echo two
              EOT
              sizes    = [1, 2.5, -3]
              tags     = { team = "infra", "on-call" = true }
              nested {
                key = "v"
              }
            }
            output "env" {
              value = var.env
            }
            """);

        _ws.InitAndPlan("tfplan", "-var", "env=staging");

        var json = _ws.ShowJson();
        var after = Change(json, "sim_thing.a")["after"]!;
        Assert.Equal("tab\there \"quoted\" staging", after["greeting"]!.GetValue<string>());
        Assert.Equal("${not_interpolated}", after["literal"]!.GetValue<string>());
        Assert.Equal("echo one\n  echo two\n", after["script"]!.GetValue<string>());
        Assert.Equal("[1,2.5,-3]", after["sizes"]!.ToJsonString());
        Assert.Equal("{\"team\":\"infra\",\"on-call\":true}", after["tags"]!.ToJsonString());
        Assert.Equal("[{\"key\":\"v\"}]", after["nested"]!.ToJsonString());
        Assert.Equal("staging", json["variables"]!["env"]!["value"]!.GetValue<string>());
        Assert.Equal("staging", json["output_changes"]!["env"]!["after"]!.GetValue<string>());
    }

    [Fact]
    public void Version_AnyForm_PrintsTerraformVersionAndSimMarker()
    {
        var text = _ws.Run("version");
        var flag = _ws.Run("-version");
        var json = _ws.Run("version", "-json");

        Assert.StartsWith("Terraform v1.", text.Stdout);
        Assert.Contains("terraform-sim", text.Stdout);
        Assert.Equal(text.Stdout, flag.Stdout);
        Assert.StartsWith("1.", JsonNode.Parse(json.Stdout)!["terraform_version"]!.GetValue<string>());
    }

    [Fact]
    public void Chdir_GlobalOption_RunsInThatDirectory()
    {
        _ws.Write("project/main.tf", "resource \"sim_thing\" \"a\" {}\n");

        Assert.Equal(0, _ws.Run("-chdir=project", "init", "-input=false").ExitCode);
        var plan = _ws.Run("-chdir=project", "plan", "-input=false", "-detailed-exitcode", "-out=p");

        Assert.Equal(2, plan.ExitCode);
        Assert.True(File.Exists(Path.Combine(_ws.Dir, "project", "p")));
    }

    [Fact]
    public void ShowJson_SimPlan_HasTheKeysAndValueKindsOfARealPlan()
    {
        var real = JsonNode.Parse(File.ReadAllText(Path.Combine(SimBinary.SolutionRoot, "App.Tests", "TerraformSim", "Fixtures", "tf-basic-create-count.json")))!.AsObject();
        _ws.Write("main.tf", "variable \"test_var\" {\n  default = \"bar\"\n}\nresource \"sim_instance\" \"test\" {\n  ami = var.test_var\n}\noutput \"test\" {\n  value = var.test_var\n}\n");
        _ws.InitAndPlan();

        var sim = _ws.ShowJson();

        // The sim has no count, so "index" is the one key real count-plans have that it cannot.
        AssertCovers(real, sim, "$");
        AssertCovers(real["planned_values"]!.AsObject(), sim["planned_values"]!.AsObject(), "planned_values");
        AssertCovers(First(real["planned_values"]!["root_module"]!["resources"]), First(sim["planned_values"]!["root_module"]!["resources"]), "planned resource", "index");
        AssertCovers(First(real["resource_changes"]), First(sim["resource_changes"]), "resource_changes[0]", "index");
        AssertCovers(real["resource_changes"]![0]!["change"]!.AsObject(), sim["resource_changes"]![0]!["change"]!.AsObject(), "change");
        AssertCovers(real["output_changes"]!["test"]!.AsObject(), sim["output_changes"]!["test"]!.AsObject(), "output_changes.test");
        AssertCovers(real["prior_state"]!.AsObject(), sim["prior_state"]!.AsObject(), "prior_state");
        Assert.Equal("1.2", sim["format_version"]!.GetValue<string>());
    }

    private static JsonObject First(JsonNode? array) => array!.AsArray()[0]!.AsObject();

    private static void AssertCovers(JsonObject real, JsonObject sim, string where, params string[] except)
    {
        foreach (var (key, value) in real)
        {
            if (except.Contains(key))
            {
                continue;
            }

            Assert.True(sim.ContainsKey(key), $"{where}: sim output lacks \"{key}\"");
            Assert.True(Kind(value) == Kind(sim[key]), $"{where}.{key}: real is {Kind(value)}, sim is {Kind(sim[key])}");
        }
    }

    private static JsonValueKind Kind(JsonNode? node) => node?.GetValueKind() switch
    {
        null => JsonValueKind.Null,
        JsonValueKind.True or JsonValueKind.False => JsonValueKind.True, // bool either way
        var k => k.Value,
    };
}
