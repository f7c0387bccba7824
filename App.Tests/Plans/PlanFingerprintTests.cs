using System.Text;
using System.Text.Json.Nodes;
using Ensemble.Jobs.Plans;

namespace Ensemble.Tests.Plans;

public class PlanFingerprintTests
{
    private const string Fixture = "tf-basic-delete-and-update.json";

    public static TheoryData<string> ValidFixtures() => PlanFixtures.Valid();

    private static string Fingerprint(string json)
    {
        var result = PlanDocument.Parse(json);
        Assert.True(result.IsSuccess, result.Error);
        return PlanFingerprint.Compute(result.Plan!);
    }

    private static string Mutated(string fixture, Action<JsonObject> mutate)
    {
        var node = JsonNode.Parse(PlanFixtures.Bytes(fixture))!.AsObject();
        mutate(node);
        return node.ToJsonString();
    }

    private static JsonObject FirstChange(JsonObject plan, string action = "update") =>
        plan["resource_changes"]!.AsArray().Select(c => c!.AsObject())
            .First(c => c["change"]!["actions"]!.AsArray().Any(a => a!.GetValue<string>() == action))["change"]!.AsObject();

    [Theory]
    [MemberData(nameof(ValidFixtures))]
    public void Compute_SamePlanTwice_SameLowerHex(string fixture)
    {
        var first = PlanFingerprint.Compute(PlanFixtures.Load(fixture));
        var second = PlanFingerprint.Compute(PlanFixtures.Load(fixture));

        Assert.Equal(first, second);
        Assert.Matches("^[0-9a-f]{64}$", first);
    }

    [Fact]
    public void Compute_DifferentPlans_Differ()
    {
        var byFixture = PlanFixtures.ValidNames().ToDictionary(n => n, n => PlanFingerprint.Compute(PlanFixtures.Load(n)));

        // These two come from different Terraform versions but plan exactly the same changes and outputs.
        Assert.Equal(byFixture["tfjson-1.1-sensitive-values.json"], byFixture["tfjson-1.2-basic.json"]);
        byFixture.Remove("tfjson-1.2-basic.json");

        // Plans with no changes at all legitimately share the fingerprint of "nothing to do".
        var empty = PlanFingerprint.Compute(PlanDocument.Parse("""{"format_version":"1.2"}""").Plan!);
        var nonEmpty = byFixture.Values.Where(f => f != empty).ToList();
        Assert.Equal(nonEmpty.Count, nonEmpty.Distinct().Count());
        Assert.True(nonEmpty.Count > 25);
    }

    public static TheoryData<string> Irrelevant() =>
    [
        "timestamp", "terraform_version", "format_version", "prior_state", "configuration", "planned_values",
        "variables", "resource_drift", "key_order", "whitespace", "change_order", "noop_added",
    ];

    [Theory]
    [MemberData(nameof(Irrelevant))]
    public void Compute_IrrelevantChange_SameFingerprint(string what)
    {
        var original = Encoding.UTF8.GetString(PlanFixtures.Bytes(Fixture));
        var changed = what switch
        {
            "whitespace" => JsonNode.Parse(original)!.ToJsonString(new() { WriteIndented = true }),
            _ => Mutated(Fixture, plan =>
            {
                switch (what)
                {
                    case "timestamp": plan["timestamp"] = "2030-01-01T00:00:00Z"; break;
                    case "terraform_version": plan["terraform_version"] = "1.99.0"; break;
                    case "format_version": plan["format_version"] = "1.7"; break;
                    case "prior_state": plan["prior_state"] = new JsonObject { ["serial"] = 42 }; break;
                    case "configuration": plan["configuration"] = new JsonObject(); break;
                    case "planned_values": plan.Remove("planned_values"); break;
                    case "variables": plan["variables"] = new JsonObject { ["x"] = new JsonObject { ["value"] = 1 } }; break;
                    case "resource_drift":
                        plan["resource_drift"] = new JsonArray(JsonNode.Parse("""{"address":"x.y","change":{"actions":["update"]}}"""));
                        break;
                    case "key_order":
                        var change = FirstChange(plan);
                        var reordered = new JsonObject(change.Reverse().Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
                        change.Parent!["change"] = reordered;
                        break;
                    case "change_order":
                        var changes = plan["resource_changes"]!.AsArray();
                        var reversed = changes.Reverse().Select(c => c!.DeepClone()).ToArray();
                        plan["resource_changes"] = new JsonArray(reversed);
                        break;
                    case "noop_added":
                        plan["resource_changes"]!.AsArray().Add(JsonNode.Parse("""{"address":"zz.unchanged","change":{"actions":["no-op"],"before":{"a":1},"after":{"a":1}}}"""));
                        break;
                }
            }),
        };

        Assert.Equal(Fingerprint(original), Fingerprint(changed));
    }

    public static TheoryData<string> Relevant() =>
    [
        "actions", "after_value", "before_value", "after_sensitive", "before_sensitive", "after_unknown", "replace_paths",
        "importing", "address", "output_value", "output_added", "output_sensitive", "number_as_written", "move",
    ];

    [Theory]
    [MemberData(nameof(Relevant))]
    public void Compute_ChangeToWhatApplyDoes_DifferentFingerprint(string what)
    {
        var original = Encoding.UTF8.GetString(PlanFixtures.Bytes(Fixture));
        var changed = Mutated(Fixture, plan =>
        {
            var change = FirstChange(plan);
            switch (what)
            {
                case "actions": change["actions"] = new JsonArray("delete", "create"); break;
                case "after_value": change["after"]!["ami"] = "ami-other"; break;
                case "before_value":
                    var update = FirstChange(plan, "update");
                    update["before"]!["ami"] = "ami-previous";
                    break;
                case "after_sensitive": change["after_sensitive"]!["ami"] = true; break;
                case "before_sensitive": FirstChange(plan, "update")["before_sensitive"]!["ami"] = true; break;
                case "after_unknown": change["after_unknown"]!["ami"] = true; break;
                case "replace_paths": change["replace_paths"] = new JsonArray(new JsonArray("ami")); break;
                case "importing": change["importing"] = new JsonObject { ["id"] = "i-123" }; break;
                case "address": change.Parent!["address"] = "test_instance.renamed"; break;
                case "output_value": plan["output_changes"]!.AsObject().First().Value!["after"] = "different"; break;
                case "output_added":
                    plan["output_changes"]!["brand_new"] = JsonNode.Parse("""{"actions":["create"],"before":null,"after":"x","after_unknown":false}""");
                    break;
                case "output_sensitive": plan["output_changes"]!.AsObject().First().Value!["after_sensitive"] = true; break;
                case "number_as_written":
                    change["after"]!["count"] = JsonNode.Parse("1.0");
                    break;
                case "move": change.Parent!["previous_address"] = "test_instance.old"; break;
            }
        });
        var baseline = what == "number_as_written"
            ? Mutated(Fixture, plan => FirstChange(plan)["after"]!["count"] = JsonNode.Parse("1"))
            : original;

        Assert.NotEqual(Fingerprint(baseline), Fingerprint(changed));
    }
}
