using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ensemble.TerraformSim.Hcl;

namespace Ensemble.TerraformSim;

public sealed record PlanOptions(bool Destroy, bool Refresh, IReadOnlyDictionary<string, string> CliVariables);

/// <summary>Diffs configuration against state. Special resource types sleep, probe or fail here.</summary>
public sealed class Planner(TextWriter output)
{
    private static readonly HashSet<string> MetaArguments = ["count", "for_each", "provider", "depends_on"];
    private static readonly HashSet<string> MetaBlocks = ["lifecycle", "provisioner", "connection", "timeouts"];
    private static readonly HashSet<string> ModuleMetaArguments = ["source", "version", "providers", "depends_on", "count", "for_each"];

    public SimPlan Plan(Configuration config, SimState? state, string newLineage, PlanOptions options, string timestamp)
    {
        var prior = state ?? SimState.Empty(newLineage);
        if (options.Refresh && prior.Resources.Count > 0)
        {
            foreach (var r in prior.Resources)
            {
                output.WriteLine($"{r.Address}: Refreshing state... [id={r.Attributes["id"]?.ToString()}]");
            }
        }

        var rootVariables = RootVariables(config.Root, options.CliVariables);
        var desired = new List<(ResourceConfig Config, JsonObject Attributes, bool CreateBeforeDestroy)>();
        var outputs = new List<(string Name, JsonNode? Value, bool Sensitive)>();
        if (!options.Destroy)
        {
            Collect(config.Root, rootVariables, desired);
            foreach (var o in config.Root.Outputs)
            {
                var context = $"output \"{o.Name}\"";
                var valueAttr = o.Body.Attribute("value")
                    ?? throw new DiagnosticException(new Diagnostic("Missing required argument", "The argument \"value\" is required, but no definition was found.", o.File.Range(o.Line, context)));
                var value = Template.Evaluate(valueAttr.Value, rootVariables, o.File, context);
                var sensitive = o.Body.Attribute("sensitive") is { } s && Template.Evaluate(s.Value, rootVariables, o.File, context) is JsonValue b && b.GetValueKind() == JsonValueKind.True;
                outputs.Add((o.Name, value, sensitive));
            }
        }

        var changes = new List<ResourceChange>();
        var priorByAddress = prior.Resources.ToDictionary(r => r.Address, StringComparer.Ordinal);
        foreach (var (rc, attributes, cbd) in desired)
        {
            var location = new Location(rc.File.DisplayPath, rc.Line, rc.Range.SourceLine);
            changes.Add(priorByAddress.TryGetValue(rc.Address, out var existing)
                ? Diff(existing, attributes, cbd, location)
                : new ResourceChange(rc.ModulePath, rc.Type, rc.Name, [Actions.Create], null, attributes, IdUnknown: true, [], location));
        }

        var desiredAddresses = desired.Select(d => d.Config.Address).ToHashSet(StringComparer.Ordinal);
        foreach (var r in prior.Resources.Where(r => !desiredAddresses.Contains(r.Address)))
        {
            changes.Add(new ResourceChange(r.ModulePath, r.Type, r.Name, [Actions.Delete], Sorted(r.Attributes), null, IdUnknown: false, [], null));
        }

        var outputChanges = new List<OutputChange>();
        foreach (var (name, value, sensitive) in outputs)
        {
            var actions = !prior.Outputs.TryGetValue(name, out var before) ? Actions.Create
                : JsonNode.DeepEquals(before.Value, value) && before.Sensitive == sensitive ? Actions.NoOp
                : Actions.Update;
            outputChanges.Add(new OutputChange(name, [actions], before?.Value?.DeepClone(), value, sensitive || (before?.Sensitive ?? false)));
        }

        foreach (var (name, before) in prior.Outputs.Where(o => outputs.All(d => d.Name != o.Key)))
        {
            outputChanges.Add(new OutputChange(name, [Actions.Delete], before.Value?.DeepClone(), null, before.Sensitive));
        }

        return new SimPlan(
            prior.Lineage,
            prior.Serial,
            state is not null,
            options.Destroy,
            config.Backend,
            timestamp,
            rootVariables,
            [.. changes.OrderBy(c => c.Address, StringComparer.Ordinal)],
            [.. outputChanges.OrderBy(o => o.Name, StringComparer.Ordinal)],
            prior,
            PlanJson.Configuration(config));
    }

    private static ResourceChange Diff(StateResource existing, JsonObject desired, bool createBeforeDestroy, Location location)
    {
        var before = Sorted(existing.Attributes);
        var keys = desired.Select(kv => kv.Key).Union(before.Select(kv => kv.Key)).Where(k => k != "id");
        var changed = keys.Where(k => !JsonNode.DeepEquals(desired[k], before[k])).Order(StringComparer.Ordinal).ToList();
        if (changed.Count == 0)
        {
            return new ResourceChange(existing.ModulePath, existing.Type, existing.Name, [Actions.NoOp], before, Sorted(existing.Attributes), false, [], location);
        }

        var forcing = changed.Where(k => SimTypes.ForcesReplacement(existing.Type, k)).ToList();
        if (forcing.Count > 0)
        {
            IReadOnlyList<string> actions = createBeforeDestroy ? [Actions.Create, Actions.Delete] : [Actions.Delete, Actions.Create];
            return new ResourceChange(existing.ModulePath, existing.Type, existing.Name, actions, before, desired, IdUnknown: true, forcing, location);
        }

        var after = desired.DeepClone().AsObject();
        after["id"] = before["id"]?.DeepClone();
        return new ResourceChange(existing.ModulePath, existing.Type, existing.Name, [Actions.Update], before, Sorted(after), false, [], location);
    }

    private void Collect(ModuleConfig module, IReadOnlyDictionary<string, JsonNode?> variables, List<(ResourceConfig, JsonObject, bool)> desired)
    {
        foreach (var rc in module.Resources)
        {
            var (attributes, cbd) = Evaluate(rc, variables);
            Simulate(rc, attributes);
            desired.Add((rc, Sorted(attributes), cbd));
        }

        foreach (var call in module.Calls)
        {
            Collect(call.Module, ModuleVariables(call, variables), desired);
        }
    }

    private static (JsonObject Attributes, bool CreateBeforeDestroy) Evaluate(ResourceConfig rc, IReadOnlyDictionary<string, JsonNode?> variables)
    {
        var attributes = new JsonObject();
        foreach (var a in rc.Body.Attributes)
        {
            if (a.Name is "count" or "for_each")
            {
                throw new DiagnosticException(new Diagnostic(
                    "Unsupported meta-argument",
                    $"terraform-sim does not support \"{a.Name}\"; declare each instance as its own resource.",
                    rc.File.Range(a.Line, rc.Context)));
            }

            if (MetaArguments.Contains(a.Name))
            {
                continue;
            }

            attributes[a.Name] = Template.Evaluate(a.Value, variables, rc.File, rc.Context);
        }

        // Nested blocks (e.g. "tag { ... }") become lists of objects, as providers model them.
        foreach (var group in rc.Body.Blocks.Where(b => !MetaBlocks.Contains(b.Type)).GroupBy(b => b.Type))
        {
            attributes[group.Key] = new JsonArray([.. group.Select(b => (JsonNode)new JsonObject(b.Body.Attributes.Select(a =>
                KeyValuePair.Create(a.Name, Template.Evaluate(a.Value, variables, rc.File, rc.Context)))))]);
        }

        var cbd = rc.Body.BlocksOf("lifecycle").Any(l => l.Body.Attribute("create_before_destroy") is { } c
            && Template.Evaluate(c.Value, variables, rc.File, rc.Context) is JsonValue v && v.GetValueKind() == JsonValueKind.True);
        return (attributes, cbd);
    }

    private void Simulate(ResourceConfig rc, JsonObject attributes)
    {
        switch (rc.Type)
        {
            case SimTypes.Fail:
                throw new DiagnosticException(new Diagnostic(
                    attributes["message"]?.ToString() ?? "Simulated plan failure",
                    "The sim_fail resource always fails while planning.",
                    rc.Range));
            case SimTypes.Slow:
                var seconds = attributes["seconds"] is JsonValue s && s.GetValueKind() == JsonValueKind.Number
                    ? double.Parse(s.ToJsonString(), CultureInfo.InvariantCulture)
                    : 0;
                for (var elapsed = 1; elapsed <= seconds; elapsed++)
                {
                    Thread.Sleep(TimeSpan.FromSeconds(1));
                    output.WriteLine($"{rc.Address}: Still reading... [{elapsed}s elapsed]");
                    output.Flush();
                }

                var rest = seconds - Math.Floor(seconds);
                if (rest > 0)
                {
                    Thread.Sleep(TimeSpan.FromSeconds(rest));
                }

                break;
            case SimTypes.Probe:
                if (attributes["env"]?.ToString() is { } env)
                {
                    var value = Environment.GetEnvironmentVariable(env) ?? "(unset)";
                    attributes["observed_env"] = value;
                    output.WriteLine($"{rc.Address}: observed_env={JsonValue.Create(value).ToJsonString()}");
                }

                if (attributes["file"]?.ToString() is { } file)
                {
                    var content = ReadOrNull(file) ?? "(unreadable)";
                    attributes["observed_file"] = content;
                    output.WriteLine($"{rc.Address}: observed_file={JsonValue.Create(content).ToJsonString()}");
                }

                output.Flush();
                break;
        }
    }

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    private static Dictionary<string, JsonNode?> RootVariables(ModuleConfig root, IReadOnlyDictionary<string, string> cli)
    {
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        var noVariables = new Dictionary<string, JsonNode?>();
        foreach (var v in root.Variables)
        {
            if (cli.TryGetValue(v.Name, out var fromCli))
            {
                values[v.Name] = fromCli;
            }
            else if (Environment.GetEnvironmentVariable($"TF_VAR_{v.Name}") is { } fromEnv)
            {
                values[v.Name] = fromEnv;
            }
            else if (v.Default is not null)
            {
                values[v.Name] = Template.Evaluate(v.Default, noVariables, v.File, $"variable \"{v.Name}\"");
            }
            else
            {
                throw new DiagnosticException(new Diagnostic(
                    "No value for required variable",
                    $"The root module input variable \"{v.Name}\" is not set, and has no default value. Use a -var or -var-file command line argument or set a TF_VAR_ environment variable to provide a value for this variable.",
                    v.File.Range(v.Line, $"variable \"{v.Name}\"")));
            }
        }

        foreach (var name in cli.Keys.Where(k => !values.ContainsKey(k)))
        {
            throw new DiagnosticException(new Diagnostic(
                "Value for undeclared variable",
                $"A variable named \"{name}\" was assigned on the command line, but the root module does not declare a variable of that name. To use this value, add a \"variable\" block to the configuration."));
        }

        return values;
    }

    private static Dictionary<string, JsonNode?> ModuleVariables(ModuleCall call, IReadOnlyDictionary<string, JsonNode?> parentScope)
    {
        var context = $"module \"{call.Name}\"";
        var declared = call.Module.Variables.ToDictionary(v => v.Name, StringComparer.Ordinal);
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var a in call.Body.Attributes.Where(a => !ModuleMetaArguments.Contains(a.Name)))
        {
            if (!declared.ContainsKey(a.Name))
            {
                throw new DiagnosticException(new Diagnostic("Unsupported argument", $"An argument named \"{a.Name}\" is not expected here.", call.File.Range(a.Line, context)));
            }

            values[a.Name] = Template.Evaluate(a.Value, parentScope, call.File, context);
        }

        var noVariables = new Dictionary<string, JsonNode?>();
        foreach (var v in call.Module.Variables.Where(v => !values.ContainsKey(v.Name)))
        {
            values[v.Name] = v.Default is not null
                ? Template.Evaluate(v.Default, noVariables, v.File, $"variable \"{v.Name}\"")
                : throw new DiagnosticException(new Diagnostic("Missing required argument", $"The argument \"{v.Name}\" is required, but no definition was found.", call.File.Range(call.Line, context)));
        }

        return values;
    }

    public static JsonObject Sorted(JsonObject o) =>
        new(o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, kv.Value?.DeepClone())));

    public static string NewId(string address, string lineage, long serial)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{address}|{lineage}|{serial.ToString(CultureInfo.InvariantCulture)}"));
        return Convert.ToHexStringLower(hash)[..16];
    }
}
