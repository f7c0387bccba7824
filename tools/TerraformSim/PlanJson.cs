using System.Text.Json;
using System.Text.Json.Nodes;
using Ensemble.TerraformSim.Hcl;

namespace Ensemble.TerraformSim;

/// <summary>Terraform's machine-readable plan format (format_version 1.2, as `terraform show -json` prints it).</summary>
public static class PlanJson
{
    public const string FormatVersion = "1.2";

    public static JsonObject Render(SimPlan plan)
    {
        var doc = new JsonObject
        {
            ["format_version"] = FormatVersion,
            ["terraform_version"] = SimInfo.TerraformVersion,
        };
        if (plan.Variables.Count > 0)
        {
            doc["variables"] = new JsonObject(plan.Variables.OrderBy(v => v.Key, StringComparer.Ordinal)
                .Select(v => KeyValuePair.Create(v.Key, (JsonNode?)new JsonObject { ["value"] = v.Value?.DeepClone() })));
        }

        doc["planned_values"] = PlannedValues(plan);
        doc["resource_changes"] = new JsonArray([.. plan.ResourceChanges.Select(c => (JsonNode)ResourceChangeJson(c))]);
        if (plan.OutputChanges.Count > 0)
        {
            doc["output_changes"] = new JsonObject(plan.OutputChanges.Select(o => KeyValuePair.Create(o.Name, (JsonNode?)new JsonObject
            {
                ["actions"] = new JsonArray([.. o.Actions.Select(a => (JsonNode)a)]),
                ["before"] = o.Before?.DeepClone(),
                ["after"] = o.After?.DeepClone(),
                ["after_unknown"] = false,
                ["before_sensitive"] = o.Sensitive,
                ["after_sensitive"] = o.Sensitive,
            })));
        }

        doc["prior_state"] = StateValues(plan.PriorState);
        doc["configuration"] = plan.Configuration.DeepClone();
        doc["timestamp"] = plan.Timestamp;
        doc["applyable"] = plan.HasChanges;
        doc["complete"] = true;
        doc["errored"] = false;
        return doc;
    }

    /// <summary>The `values` representation of a state, as in prior_state and `terraform show -json` of a state.</summary>
    public static JsonObject StateValues(SimState state)
    {
        var values = new JsonObject();
        if (state.Outputs.Count > 0)
        {
            values["outputs"] = new JsonObject(state.Outputs.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => KeyValuePair.Create(o.Key, (JsonNode?)new JsonObject
            {
                ["sensitive"] = o.Value.Sensitive,
                ["value"] = o.Value.Value?.DeepClone(),
                ["type"] = JsonTypes.TypeOf(o.Value.Value),
            })));
        }

        values["root_module"] = ModuleTree(state.Resources.Select(r => (r.ModulePath, Values: ValueEntry(r.ModulePath, r.Type, r.Name, r.Attributes))));
        return new JsonObject
        {
            ["format_version"] = "1.0",
            ["terraform_version"] = SimInfo.TerraformVersion,
            ["values"] = values,
        };
    }

    private static JsonObject PlannedValues(SimPlan plan)
    {
        var planned = new JsonObject();
        var outputs = plan.OutputChanges.Where(o => o.Actions is not [Actions.Delete]).ToList();
        if (outputs.Count > 0)
        {
            planned["outputs"] = new JsonObject(outputs.Select(o => KeyValuePair.Create(o.Name, (JsonNode?)new JsonObject
            {
                ["sensitive"] = o.Sensitive,
                ["type"] = JsonTypes.TypeOf(o.After),
                ["value"] = o.After?.DeepClone(),
            })));
        }

        planned["root_module"] = ModuleTree(plan.ResourceChanges
            .Where(c => c.After is not null)
            .Select(c => (c.ModulePath, Values: ValueEntry(c.ModulePath, c.Type, c.Name, c.After!))));
        return planned;
    }

    private static JsonObject ValueEntry(string modulePath, string type, string name, JsonObject values) => new()
    {
        ["address"] = Addresses.Resource(modulePath, type, name),
        ["mode"] = "managed",
        ["type"] = type,
        ["name"] = name,
        ["provider_name"] = SimState.ProviderName,
        ["schema_version"] = 0,
        ["values"] = values.DeepClone(),
        ["sensitive_values"] = SensitiveMarkers(type, values),
    };

    /// <summary>Nests resources by module path: root_module.child_modules[].child_modules[]...</summary>
    private static JsonObject ModuleTree(IEnumerable<(string ModulePath, JsonObject Values)> entries)
    {
        var byModule = entries.GroupBy(e => e.ModulePath).ToDictionary(g => g.Key, g => g.Select(e => e.Values).ToList(), StringComparer.Ordinal);
        var allPaths = byModule.Keys.SelectMany(Ancestry).ToHashSet(StringComparer.Ordinal);
        return Node("", isRoot: true);

        JsonObject Node(string path, bool isRoot)
        {
            var node = new JsonObject();
            if (byModule.TryGetValue(path, out var resources))
            {
                node["resources"] = new JsonArray([.. resources.OrderBy(r => r["address"]!.GetValue<string>(), StringComparer.Ordinal).Select(r => (JsonNode)r)]);
            }

            if (!isRoot)
            {
                node["address"] = path;
            }

            var children = allPaths.Where(p => p.Length > 0 && Parent(p) == path).Order(StringComparer.Ordinal).ToList();
            if (children.Count > 0)
            {
                node["child_modules"] = new JsonArray([.. children.Select(c => (JsonNode)Node(c, isRoot: false))]);
            }

            return node;
        }
    }

    private static IEnumerable<string> Ancestry(string path)
    {
        for (var p = path; p.Length > 0; p = Parent(p))
        {
            yield return p;
        }

        yield return "";
    }

    private static string Parent(string modulePath)
    {
        var i = modulePath.LastIndexOf(".module.", StringComparison.Ordinal);
        return i < 0 ? "" : modulePath[..i];
    }

    private static JsonNode SensitiveMarkers(string type, JsonObject? values)
    {
        var markers = new JsonObject();
        foreach (var attribute in SimTypes.SensitiveAttributes(type).Where(a => values?.ContainsKey(a) == true))
        {
            markers[attribute] = true;
        }

        return markers;
    }

    private static JsonObject ResourceChangeJson(ResourceChange c)
    {
        var change = new JsonObject
        {
            ["actions"] = new JsonArray([.. c.Actions.Select(a => (JsonNode)a)]),
            ["before"] = c.Before?.DeepClone(),
            ["after"] = c.After?.DeepClone(),
            ["after_unknown"] = c.IdUnknown ? new JsonObject { ["id"] = true } : new JsonObject(),
            ["before_sensitive"] = c.Before is null ? false : SensitiveMarkers(c.Type, c.Before),
            ["after_sensitive"] = c.After is null ? false : SensitiveMarkers(c.Type, c.After),
        };
        if (c.ReplacePaths.Count > 0)
        {
            change["replace_paths"] = new JsonArray([.. c.ReplacePaths.Select(p => (JsonNode)new JsonArray(p))]);
        }

        var entry = new JsonObject { ["address"] = c.Address };
        if (c.ModulePath.Length > 0)
        {
            entry["module_address"] = c.ModulePath;
        }

        entry["mode"] = "managed";
        entry["type"] = c.Type;
        entry["name"] = c.Name;
        entry["provider_name"] = SimState.ProviderName;
        entry["change"] = change;
        if (c.IsReplace)
        {
            entry["action_reason"] = "replace_because_cannot_update";
        }

        return entry;
    }

    /// <summary>Reads resource changes back from a rendered plan (the saved plan embeds the rendered JSON).</summary>
    public static IReadOnlyList<ResourceChange> ReadResourceChanges(JsonObject doc, IReadOnlyDictionary<string, Location> locations) =>
        [.. (doc["resource_changes"]?.AsArray() ?? []).Select(n =>
        {
            var change = n!["change"]!;
            var address = n["address"]!.GetValue<string>();
            return new ResourceChange(
                n["module_address"]?.GetValue<string>() ?? "",
                n["type"]!.GetValue<string>(),
                n["name"]!.GetValue<string>(),
                [.. change["actions"]!.AsArray().Select(a => a!.GetValue<string>())],
                change["before"]?.DeepClone().AsObject(),
                change["after"]?.DeepClone().AsObject(),
                change["after_unknown"]?["id"]?.GetValue<bool>() == true,
                [.. (change["replace_paths"]?.AsArray() ?? []).Select(p => p![0]!.GetValue<string>())],
                locations.GetValueOrDefault(address));
        })];

    public static IReadOnlyList<OutputChange> ReadOutputChanges(JsonObject doc) =>
        [.. (doc["output_changes"]?.AsObject() ?? []).Select(kv => new OutputChange(
            kv.Key,
            [.. kv.Value!["actions"]!.AsArray().Select(a => a!.GetValue<string>())],
            kv.Value["before"]?.DeepClone(),
            kv.Value["after"]?.DeepClone(),
            kv.Value["after_sensitive"]?.GetValueKind() == JsonValueKind.True || kv.Value["before_sensitive"]?.GetValueKind() == JsonValueKind.True))];

    public static JsonObject Configuration(Configuration config) => new()
    {
        ["provider_config"] = new JsonObject
        {
            ["sim"] = new JsonObject { ["name"] = "sim", ["full_name"] = SimState.ProviderName },
        },
        ["root_module"] = ModuleConfiguration(config.Root),
    };

    private static JsonObject ModuleConfiguration(ModuleConfig module)
    {
        var node = new JsonObject();
        if (module.Outputs.Count > 0)
        {
            node["outputs"] = new JsonObject(module.Outputs.Select(o =>
            {
                var output = new JsonObject();
                if (o.Body.Attribute("sensitive") is { Value: LiteralExpr { Value: JsonValue s } } && s.GetValueKind() == JsonValueKind.True)
                {
                    output["sensitive"] = true;
                }

                output["expression"] = o.Body.Attribute("value") is { } v ? Expression(v.Value) : new JsonObject();
                return KeyValuePair.Create(o.Name, (JsonNode?)output);
            }));
        }

        if (module.Resources.Count > 0)
        {
            node["resources"] = new JsonArray([.. module.Resources.Select(r => (JsonNode)new JsonObject
            {
                ["address"] = Addresses.Resource("", r.Type, r.Name),
                ["mode"] = "managed",
                ["type"] = r.Type,
                ["name"] = r.Name,
                ["provider_config_key"] = "sim",
                ["expressions"] = new JsonObject(r.Body.Attributes.Select(a => KeyValuePair.Create(a.Name, (JsonNode?)Expression(a.Value)))),
                ["schema_version"] = 0,
            })]);
        }

        if (module.Calls.Count > 0)
        {
            node["module_calls"] = new JsonObject(module.Calls.Select(c => KeyValuePair.Create(c.Name, (JsonNode?)new JsonObject
            {
                ["source"] = c.Source,
                ["module"] = ModuleConfiguration(c.Module),
            })));
        }

        if (module.Variables.Count > 0)
        {
            node["variables"] = new JsonObject(module.Variables.Select(v =>
            {
                var variable = new JsonObject();
                if (v.Default is LiteralExpr { Value: var d })
                {
                    variable["default"] = d?.DeepClone();
                }

                return KeyValuePair.Create(v.Name, (JsonNode?)variable);
            }));
        }

        return node;
    }

    private static JsonObject Expression(Expr expr) => expr switch
    {
        LiteralExpr l => new JsonObject { ["constant_value"] = l.Value?.DeepClone() },
        VarRefExpr v => new JsonObject { ["references"] = new JsonArray($"var.{v.Name}") },
        _ => new JsonObject(),
    };
}
