using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ensemble.TerraformSim;

/// <summary>
/// The sim's saved plan: a header line that makes it unreadable as JSON (callers must use `show -json`,
/// as with real zip plans), then the planning metadata and the rendered plan JSON.
/// </summary>
public static class PlanFile
{
    private const string Header = "terraform-sim saved plan v1";

    public static void Write(string path, SimPlan plan)
    {
        var locations = new JsonObject(plan.ResourceChanges.Where(c => c.Location is not null).Select(c => KeyValuePair.Create(c.Address, (JsonNode?)new JsonObject
        {
            ["file"] = c.Location!.File,
            ["line"] = c.Location.Line,
            ["source_line"] = c.Location.SourceLine,
        })));
        var doc = new JsonObject
        {
            ["lineage"] = plan.Lineage,
            ["serial"] = plan.Serial,
            ["state_existed"] = plan.StateExisted,
            ["destroy"] = plan.Destroy,
            ["backend"] = plan.Backend.ToJson(),
            ["locations"] = locations,
            ["plan"] = PlanJson.Render(plan),
        };
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, Header + "\n" + doc.ToJsonString() + "\n", new UTF8Encoding(false));
    }

    public static SavedPlan Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(path, e.Message);
        }

        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        if (newline < 0 || text[..newline] != Header)
        {
            throw Invalid(path, "not a terraform-sim plan file");
        }

        try
        {
            var doc = JsonNode.Parse(text[(newline + 1)..])!.AsObject();
            var locations = doc["locations"]!.AsObject().ToDictionary(
                kv => kv.Key,
                kv => new Location(kv.Value!["file"]!.GetValue<string>(), kv.Value["line"]!.GetValue<int>(), kv.Value["source_line"]?.GetValue<string>()),
                StringComparer.Ordinal);
            var planJson = doc["plan"]!.AsObject();
            var backend = doc["backend"]!;
            return new SavedPlan(
                doc["lineage"]!.GetValue<string>(),
                doc["serial"]!.GetValue<long>(),
                doc["state_existed"]!.GetValue<bool>(),
                doc["destroy"]!.GetValue<bool>(),
                new BackendConfig(backend["type"]!.GetValue<string>(), backend["path"]!.GetValue<string>()),
                planJson,
                PlanJson.ReadResourceChanges(planJson, locations),
                PlanJson.ReadOutputChanges(planJson));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or KeyNotFoundException)
        {
            throw Invalid(path, "the plan file is corrupt: " + e.Message);
        }
    }

    private static DiagnosticException Invalid(string path, string reason) =>
        new(new Diagnostic($"Failed to load \"{path}\" as a plan file", $"Error: {reason}"));
}

public sealed record SavedPlan(
    string Lineage,
    long Serial,
    bool StateExisted,
    bool Destroy,
    BackendConfig Backend,
    JsonObject PlanJson,
    IReadOnlyList<ResourceChange> ResourceChanges,
    IReadOnlyList<OutputChange> OutputChanges)
{
    public bool HasChanges => ResourceChanges.Any(c => !c.IsNoOp) || OutputChanges.Any(o => !o.IsNoOp);
}
