using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ensemble.TerraformSim;

/// <summary>The human plan text, shaped like terraform's (-no-color) rendering.</summary>
public static class PlanText
{
    private static readonly string Rule = new('─', 77);

    public static string Render(IReadOnlyList<ResourceChange> changes, IReadOnlyList<OutputChange> outputs, bool destroy)
    {
        var sb = new StringBuilder();
        var resourceChanges = changes.Where(c => !c.IsNoOp).ToList();
        var outputChanges = outputs.Where(o => !o.IsNoOp).ToList();
        if (resourceChanges.Count == 0 && outputChanges.Count == 0)
        {
            sb.Append('\n');
            if (destroy)
            {
                sb.Append("No changes. No objects need to be destroyed.\n\n")
                  .Append("Either you have not created any objects yet or the existing objects were\nalready deleted outside of Terraform.\n");
            }
            else
            {
                sb.Append("No changes. Your infrastructure matches the configuration.\n\n")
                  .Append("Terraform has compared your real infrastructure against your configuration\nand found no differences, so no changes are needed.\n");
            }

            return sb.ToString();
        }

        if (resourceChanges.Count > 0)
        {
            sb.Append("\nTerraform used the selected providers to generate the following execution\nplan. Resource actions are indicated with the following symbols:\n");
            (Func<ResourceChange, bool> Has, string Legend)[] legend =
            [
                (c => c.IsCreate, "  + create"),
                (c => c.IsUpdate, "  ~ update in-place"),
                (c => c.IsDelete, "  - destroy"),
                (c => c.IsReplace && !c.CreateBeforeDestroy, "-/+ destroy and then create replacement"),
                (c => c.CreateBeforeDestroy, "+/- create replacement and then destroy"),
            ];
            foreach (var (has, text) in legend.Where(l => resourceChanges.Any(l.Has)))
            {
                sb.Append(text).Append('\n');
            }

            sb.Append("\nTerraform will perform the following actions:\n\n");
            foreach (var change in resourceChanges)
            {
                AppendResource(sb, change);
                sb.Append('\n');
            }

            var add = changes.Count(c => c.IsCreate || c.IsReplace);
            var update = changes.Count(c => c.IsUpdate);
            var remove = changes.Count(c => c.IsDelete || c.IsReplace);
            sb.Append($"Plan: {add} to add, {update} to change, {remove} to destroy.\n");
        }

        if (outputChanges.Count > 0)
        {
            sb.Append("\nChanges to Outputs:\n");
            var width = outputChanges.Max(o => o.Name.Length);
            foreach (var o in outputChanges)
            {
                var name = o.Name.PadRight(width);
                var before = o.Sensitive ? "(sensitive value)" : Value(o.Before);
                var after = o.Sensitive ? "(sensitive value)" : Value(o.After);
                sb.Append(o.Actions switch
                {
                    [Actions.Create] => $"  + {name} = {after}\n",
                    [Actions.Delete] => $"  - {name} = {before} -> null\n",
                    _ => $"  ~ {name} = {before} -> {after}\n",
                });
            }

            if (resourceChanges.Count == 0)
            {
                sb.Append("\nYou can apply this plan to save these new output values to the Terraform\nstate, without changing any real infrastructure.\n");
            }
        }

        return sb.ToString();
    }

    public static string SavedTo(string planFile) =>
        $"\n{Rule}\n\nSaved the plan to: {planFile}\n\nTo perform exactly these actions, run the following command to apply:\n    terraform apply \"{planFile}\"\n";

    public static string NotSaved() =>
        $"\n{Rule}\n\nNote: You didn't use the -out option to save this plan, so Terraform can't\nguarantee to take exactly these actions if you run \"terraform apply\" now.\n";

    private static void AppendResource(StringBuilder sb, ResourceChange c)
    {
        var (verb, symbol) = c.Actions switch
        {
            [Actions.Create] => ("will be created", "  +"),
            [Actions.Update] => ("will be updated in-place", "  ~"),
            [Actions.Delete] => ("will be destroyed", "  -"),
            [Actions.Create, Actions.Delete] => ("must be replaced", "+/-"),
            _ => ("must be replaced", "-/+"),
        };
        sb.Append($"  # {c.Address} {verb}\n");
        sb.Append($"{symbol} resource \"{c.Type}\" \"{c.Name}\" {{\n");

        var sensitive = SimTypes.SensitiveAttributes(c.Type);
        string Show(string name, JsonNode? v) => sensitive.Contains(name) ? "(sensitive value)" : Value(v);

        var lines = new List<(string Mark, string Name, string Text)>();
        var hidden = 0;
        var names = (c.Before?.Select(kv => kv.Key) ?? []).Union(c.After?.Select(kv => kv.Key) ?? []).Append("id").Distinct().Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var before = c.Before?[name];
            var after = c.After?[name];
            var idUnknown = name == "id" && c.IdUnknown;
            if (c.IsCreate)
            {
                lines.Add(("+", name, idUnknown ? "(known after apply)" : Show(name, after)));
            }
            else if (c.IsDelete)
            {
                lines.Add(("-", name, $"{Show(name, before)} -> null"));
            }
            else if (idUnknown)
            {
                lines.Add(("~", name, $"{Show(name, before)} -> (known after apply)"));
            }
            else if (JsonNode.DeepEquals(before, after))
            {
                if (name == "id")
                {
                    lines.Add((" ", name, Show(name, before)));
                }
                else
                {
                    hidden++;
                }
            }
            else
            {
                var forces = c.ReplacePaths.Contains(name) ? " # forces replacement" : "";
                lines.Add(before is null ? ("+", name, Show(name, after) + forces)
                    : after is null ? ("-", name, $"{Show(name, before)} -> null{forces}")
                    : ("~", name, $"{Show(name, before)} -> {Show(name, after)}{forces}"));
            }
        }

        var width = lines.Count == 0 ? 0 : lines.Max(l => l.Name.Length);
        foreach (var (mark, name, text) in lines)
        {
            sb.Append($"      {mark} {name.PadRight(width)} = {text}\n");
        }

        if (hidden > 0)
        {
            sb.Append($"        # ({hidden} unchanged attribute{(hidden == 1 ? "" : "s")} hidden)\n");
        }

        sb.Append("    }\n");
    }

    public static string Value(JsonNode? value) => value switch
    {
        null => "null",
        JsonArray a => "[" + string.Join(", ", a.Select(Value)) + "]",
        JsonObject o => "{ " + string.Join(", ", o.Select(kv => $"{kv.Key} = {Value(kv.Value)}")) + " }",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.ToJsonString(Unescaped),
        _ => value.ToJsonString(),
    };

    private static readonly JsonSerializerOptions Unescaped = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
