using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ensemble.TerraformSim;

public sealed record StateResource(string ModulePath, string Type, string Name, JsonObject Attributes)
{
    public string Address => Addresses.Resource(ModulePath, Type, Name);
}

public sealed record StateOutput(JsonNode? Value, bool Sensitive);

/// <summary>Terraform state (format version 4) with only what the sim needs.</summary>
public sealed record SimState(string Lineage, long Serial, IReadOnlyDictionary<string, StateOutput> Outputs, IReadOnlyList<StateResource> Resources)
{
    public const string ProviderName = "registry.terraform.io/hashicorp/sim";

    public static SimState Empty(string lineage) => new(lineage, 0, new Dictionary<string, StateOutput>(), []);

    public static SimState? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        JsonNode? doc;
        try
        {
            doc = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new DiagnosticException(new Diagnostic("Failed to load state", $"Error reading {path}: {e.Message}"));
        }

        if (doc is not JsonObject root || root["version"]?.GetValue<int>() != 4)
        {
            throw new DiagnosticException(new Diagnostic("Failed to load state", $"The state file {path} is not a version 4 terraform state."));
        }

        var outputs = new Dictionary<string, StateOutput>();
        foreach (var (name, value) in root["outputs"]?.AsObject() ?? [])
        {
            outputs[name] = new StateOutput(value?["value"]?.DeepClone(), value?["sensitive"]?.GetValue<bool>() ?? false);
        }

        var resources = new List<StateResource>();
        foreach (var r in root["resources"]?.AsArray() ?? [])
        {
            if (r is null || r["mode"]?.GetValue<string>() != "managed")
            {
                continue;
            }

            foreach (var instance in r["instances"]?.AsArray() ?? [])
            {
                resources.Add(new StateResource(
                    r["module"]?.GetValue<string>() ?? "",
                    r["type"]!.GetValue<string>(),
                    r["name"]!.GetValue<string>(),
                    instance?["attributes"]?.DeepClone().AsObject() ?? []));
            }
        }

        return new SimState(root["lineage"]?.GetValue<string>() ?? "", root["serial"]?.GetValue<long>() ?? 0, outputs, resources);
    }

    public JsonObject ToJson()
    {
        var outputs = new JsonObject();
        foreach (var (name, output) in Outputs.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            outputs[name] = new JsonObject
            {
                ["value"] = output.Value?.DeepClone(),
                ["type"] = JsonTypes.TypeOf(output.Value),
                ["sensitive"] = output.Sensitive ? true : null,
            };
            if (!output.Sensitive)
            {
                outputs[name]!.AsObject().Remove("sensitive");
            }
        }

        var resources = new JsonArray();
        foreach (var r in Resources.OrderBy(r => r.Address, StringComparer.Ordinal))
        {
            var entry = new JsonObject();
            if (r.ModulePath.Length > 0)
            {
                entry["module"] = r.ModulePath;
            }

            entry["mode"] = "managed";
            entry["type"] = r.Type;
            entry["name"] = r.Name;
            entry["provider"] = $"provider[\"{ProviderName}\"]";
            var sensitive = new JsonArray([.. SimTypes.SensitiveAttributes(r.Type).Select(a =>
                (JsonNode)new JsonArray(new JsonObject { ["type"] = "get_attr", ["value"] = a }))]);
            entry["instances"] = new JsonArray(new JsonObject
            {
                ["schema_version"] = 0,
                ["attributes"] = r.Attributes.DeepClone(),
                ["sensitive_attributes"] = sensitive,
            });
            resources.Add((JsonNode)entry);
        }

        return new JsonObject
        {
            ["version"] = 4,
            ["terraform_version"] = SimInfo.TerraformVersion,
            ["serial"] = Serial,
            ["lineage"] = Lineage,
            ["outputs"] = outputs,
            ["resources"] = resources,
            ["check_results"] = null,
        };
    }

    /// <summary>Writes through a temp file and a rename so a concurrent reader never sees half a state.</summary>
    public void Write(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        File.WriteAllText(temp, ToJson().ToJsonString(JsonTypes.Indented) + "\n");
        File.Move(temp, path, overwrite: true);
    }
}

public static class SimInfo
{
    public const string TerraformVersion = "1.9.8";
}

public static class JsonTypes
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Terraform's JSON type notation for a literal value.</summary>
    public static JsonNode TypeOf(JsonNode? value) => value switch
    {
        null => "dynamic",
        JsonArray a => new JsonArray("tuple", new JsonArray([.. a.Select(TypeOf)])),
        JsonObject o => new JsonArray("object", new JsonObject(o.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)TypeOf(kv.Value))))),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => "string",
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => "bool",
        _ => "number",
    };
}

/// <summary>Behaviour of the special resource types.</summary>
public static class SimTypes
{
    public const string Fail = "sim_fail";
    public const string ApplyFail = "sim_apply_fail";
    public const string Slow = "sim_slow";
    public const string Sensitive = "sim_sensitive";
    public const string Probe = "sim_probe";
    public const string Replace = "sim_replace";

    public static IReadOnlyList<string> SensitiveAttributes(string type) => type == Sensitive ? ["value"] : [];

    public static bool ForcesReplacement(string type, string attribute) =>
        type == Replace || attribute.StartsWith("force_new_", StringComparison.Ordinal);
}
