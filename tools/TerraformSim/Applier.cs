using System.Text.Json.Nodes;

namespace Ensemble.TerraformSim;

public sealed record ApplyResult(SimState? NewState, Diagnostic? Error, int Added, int Changed, int Destroyed);

/// <summary>Applies a saved plan's changes to the state it was planned against.</summary>
public sealed class Applier(TextWriter output)
{
    public ApplyResult Apply(SavedPlan plan, SimState current)
    {
        if (!plan.HasChanges)
        {
            return new ApplyResult(null, null, 0, 0, 0);
        }

        var serial = current.Serial + 1;
        var resources = current.Resources.ToDictionary(r => r.Address, StringComparer.Ordinal);
        var (added, changed, destroyed) = (0, 0, 0);
        Diagnostic? error = null;
        foreach (var c in plan.ResourceChanges.Where(c => !c.IsNoOp))
        {
            var oldId = c.Before?["id"]?.ToString();
            if (c.Type == SimTypes.ApplyFail && c.After is not null)
            {
                output.WriteLine($"{c.Address}: {(c.IsUpdate ? "Modifying..." : "Creating...")}");
                var range = c.Location is { } l ? new SourceRange(l.File, l.Line, $"resource \"{c.Type}\" \"{c.Name}\"", l.SourceLine) : null;
                error ??= new Diagnostic(c.After["message"]?.ToString() ?? "Simulated apply failure", "The sim_apply_fail resource always fails while applying.", range);
                continue;
            }

            if (c.IsDelete || (c.IsReplace && !c.CreateBeforeDestroy))
            {
                Destroy(c, oldId);
            }

            if (c.After is not null)
            {
                var attributes = Planner.Sorted(c.After);
                var id = c.IdUnknown ? Planner.NewId(c.Address, plan.Lineage, serial) : attributes["id"]?.ToString() ?? Planner.NewId(c.Address, plan.Lineage, serial);
                attributes["id"] = id;
                if (c.IsUpdate)
                {
                    output.WriteLine($"{c.Address}: Modifying... [id={id}]");
                    output.WriteLine($"{c.Address}: Modifications complete after 0s [id={id}]");
                    changed++;
                }
                else
                {
                    output.WriteLine($"{c.Address}: Creating...");
                    var seconds = c.Type == SimTypes.Slow && attributes["apply_seconds"] is JsonValue s && s.TryGetValue(out double value) ? (int)value : 0;
                    for (var elapsed = 1; elapsed <= seconds; elapsed++)
                    {
                        // Like the real CLI, which reports a long create every 10 s.
                        Thread.Sleep(TimeSpan.FromSeconds(1));
                        output.WriteLine($"{c.Address}: Still creating... [{elapsed}s elapsed]");
                        output.Flush();
                    }

                    output.WriteLine($"{c.Address}: Creation complete after {seconds}s [id={id}]");
                    added++;
                }

                resources[c.Address] = new StateResource(c.ModulePath, c.Type, c.Name, Planner.Sorted(attributes));
            }

            if (c.CreateBeforeDestroy)
            {
                Destroy(c, oldId);
            }

            if (c.IsDelete || c.IsReplace)
            {
                destroyed++;
            }

            if (c.IsDelete)
            {
                resources.Remove(c.Address);
            }
        }

        var outputs = current.Outputs.ToDictionary(o => o.Key, o => o.Value, StringComparer.Ordinal);
        foreach (var o in plan.OutputChanges)
        {
            if (o.Actions is [Actions.Delete])
            {
                outputs.Remove(o.Name);
            }
            else
            {
                outputs[o.Name] = new StateOutput(o.After?.DeepClone(), o.Sensitive);
            }
        }

        var state = new SimState(plan.Lineage, serial, outputs, [.. resources.Values]);
        return new ApplyResult(state, error, added, changed, destroyed);
    }

    private void Destroy(ResourceChange c, string? oldId)
    {
        output.WriteLine($"{c.Address}: Destroying... [id={oldId}]");
        output.WriteLine($"{c.Address}: Destruction complete after 0s");
    }
}
