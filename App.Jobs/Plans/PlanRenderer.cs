using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.Plans;

/// <summary>Where and how a plan is shown: the project's repo-relative path, a link to the whole plan, destroy mode.</summary>
public sealed record PlanRenderContext(string ProjectPath, string? FullPlanUrl = null, bool Destroy = false);

/// <summary>
/// Renders a plan as the project's check run. Both summary and text stay within <see cref="CheckRunOutput.MaxLength"/>:
/// when a plan does not fit, attribute diffs go first (from the end), then create and update addresses (their counts
/// stay); destroy and replace addresses stay while they fit at all. Every omission is stated, and output is only
/// ever cut between whole Markdown blocks.
/// </summary>
public static partial class PlanRenderer
{
    private const int Max = CheckRunOutput.MaxLength;
    // Room for one "… N not shown" note and the full-plan link, reserved before anything optional is placed.
    private const int NoteReserve = 400;
    // One resource's diff never takes more than this, so a single huge attribute cannot hide every other resource.
    private const int MaxResourceDiff = 20_000;

    /// <summary>Output budgets: a check run's, or none at all for the full-plan page.</summary>
    private readonly record struct Limits(int Output, int ResourceDiff)
    {
        public static Limits CheckRun => new(Max, MaxResourceDiff);
        public static Limits None => new(int.MaxValue, int.MaxValue);
    }

    public static CheckRunOutput Render(PlanDocument plan, PlanRenderContext ctx) => Render(plan, ctx, Limits.CheckRun);

    /// <summary>
    /// The same rendering with no length limits: every address and every attribute diff (single values keep their
    /// readability caps). Sensitive values are masked exactly as in <see cref="Render(PlanDocument, PlanRenderContext)"/>.
    /// For the full-plan page only: the result may be far longer than a check run accepts.
    /// </summary>
    public static CheckRunOutput RenderFull(PlanDocument plan, PlanRenderContext ctx) =>
        Render(plan, ctx with { FullPlanUrl = null }, Limits.None);

    private static CheckRunOutput Render(PlanDocument plan, PlanRenderContext ctx, Limits limits)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(ctx);
        var counts = PlanSummary.From(plan);
        if (!counts.HasChanges)
        {
            return RenderNoChanges(plan, ctx, limits);
        }

        var title = (ctx.Destroy ? "Destroy plan: " : "Plan: ") + Words(counts);
        var summary = RenderSummary(plan, counts, ctx, limits);
        var text = RenderText(plan, ctx, limits);
        return new CheckRunOutput(title, summary, text);
    }

    private static CheckRunOutput RenderNoChanges(PlanDocument plan, PlanRenderContext ctx, Limits limits)
    {
        var sb = new StringBuilder();
        sb.AppendBlock($"**No changes.** The infrastructure of project {Markdown.Code(ctx.ProjectPath)} matches its configuration; there is nothing to apply.");
        AppendNotices(sb, plan, ctx);
        var sections = new List<Section>();
        AddDriftSection(plan, sections);
        AddCheckSections(plan, sections);
        FillSections(sb, sections, ctx.FullPlanUrl, limits.Output);
        return new CheckRunOutput("No changes", sb.ToString());
    }

    private static string Words(PlanSummary s)
    {
        var parts = new List<string>
        {
            $"{Count(s.Add)} to add", $"{Count(s.Change)} to change", $"{Count(s.Replace)} to replace", $"{Count(s.Destroy)} to destroy",
        };
        AddExtras(parts, s);
        return string.Join(", ", parts);
    }

    private static string Markers(PlanSummary s)
    {
        var parts = new List<string>
        {
            $"+{Count(s.Add)} to add", $"~{Count(s.Change)} to change", $"±{Count(s.Replace)} to replace", $"−{Count(s.Destroy)} to destroy",
        };
        AddExtras(parts, s);
        return string.Join(", ", parts);
    }

    private static void AddExtras(List<string> parts, PlanSummary s)
    {
        if (s.Import > 0) parts.Add($"{Count(s.Import)} to import");
        if (s.Move > 0) parts.Add($"{Count(s.Move)} to move");
        if (s.Forget > 0) parts.Add($"{Count(s.Forget)} to forget");
        if (s.OutputChanges > 0) parts.Add($"{Count(s.OutputChanges)} output {(s.OutputChanges == 1 ? "change" : "changes")}");
        if (s.ActionInvocations > 0) parts.Add($"{Count(s.ActionInvocations)} {(s.ActionInvocations == 1 ? "action" : "actions")} to run");
    }

    // ---------------------------------------------------------------- summary

    private static string RenderSummary(PlanDocument plan, PlanSummary counts, PlanRenderContext ctx, Limits limits)
    {
        var sb = new StringBuilder();
        sb.Append("**").Append(Markers(counts)).Append("** in project ").Append(Markdown.Code(ctx.ProjectPath));
        AppendNotices(sb, plan, ctx);

        var sections = new List<Section>();
        var destructive = Filter(plan.ResourceChanges, c => c.Action is PlanAction.Delete or PlanAction.Replace);
        if (destructive.Count > 0)
        {
            sections.Add(new Section(
                $"### ⚠️ Destroyed or replaced ({Count(destructive.Count)})", "destroy or replace address", "destroy and replace addresses", Priority: 0, Order: 0,
                Lines(destructive, DestructiveLine),
                Lines(destructive, c => $"- {Marker(c.Action)} {Markdown.Code(c.Address)}")));
        }

        AddAddressSection(sections, plan, PlanAction.Create, "#### + Create", "create", priority: 6, order: 1);
        AddAddressSection(sections, plan, PlanAction.Update, "#### ~ Update in place", "update", priority: 5, order: 2);

        var imports = Filter(plan.ResourceChanges, c => c.IsImport);
        if (imports.Count > 0)
        {
            sections.Add(new Section($"#### Import ({Count(imports.Count)})", "import", "imports", 1, 3,
                Lines(imports, c => $"- {Markdown.Code(c.Address)}" + (c.ImportId is { } id ? $" from id {Markdown.Code(id)}" : ""))));
        }

        var moves = Filter(plan.ResourceChanges, c => c.IsMove);
        if (moves.Count > 0)
        {
            sections.Add(new Section($"#### Move ({Count(moves.Count)})", "move", "moves", 1, 4,
                Lines(moves, c => $"- {Markdown.Code(c.PreviousAddress!)} → {Markdown.Code(c.Address)}")));
        }

        var forgets = Filter(plan.ResourceChanges, c => c.Action == PlanAction.Forget);
        if (forgets.Count > 0)
        {
            sections.Add(new Section($"#### Forget ({Count(forgets.Count)}): removed from state, the objects themselves are kept", "forget", "forgets", 1, 5,
                Lines(forgets, c => $"- {Markdown.Code(c.Address)}")));
        }

        var reads = Filter(plan.ResourceChanges, c => c.Action == PlanAction.Read);
        if (reads.Count > 0)
        {
            sections.Add(new Section($"#### Data sources read during apply ({Count(reads.Count)})", "data source read", "data source reads", 7, 6,
                Lines(reads, c => $"- {Markdown.Code(c.Address)}" + (c.ActionReason is { } r ? $": {Reason(r)}" : ""))));
        }

        var outputs = plan.OutputChanges.Where(o => o.Action != PlanAction.NoOp).ToList();
        if (outputs.Count > 0)
        {
            sections.Add(new Section($"#### Outputs ({Count(outputs.Count)})", "output", "outputs", 2, 7, Lines(outputs, OutputLine)));
        }

        if (plan.ActionInvocations.Count > 0)
        {
            sections.Add(new Section($"#### Actions run on apply ({Count(plan.ActionInvocations.Count)})", "action", "actions", 4, 8,
                Lines(plan.ActionInvocations, a => $"- {Markdown.Code(a)}")));
        }

        if (plan.DeferredChanges.Count > 0)
        {
            sections.Add(new Section($"#### Deferred to a later plan ({Count(plan.DeferredChanges.Count)})", "deferred change", "deferred changes", 4, 9,
                Lines(plan.DeferredChanges, d => $"- {Markdown.Code(d.Change.Address)}: {Markdown.Code(d.Reason)}")));
        }

        AddCheckSections(plan, sections);
        AddDriftSection(plan, sections);
        FillSections(sb, sections, ctx.FullPlanUrl, limits.Output);
        return sb.ToString();
    }

    private static void AppendNotices(StringBuilder sb, PlanDocument plan, PlanRenderContext ctx)
    {
        if (ctx.Destroy)
        {
            sb.AppendBlock($"> [!CAUTION]\n> 🔥 **DESTROY PLAN: applying it destroys every resource that project {Markdown.Code(ctx.ProjectPath)} manages.**");
        }

        if (plan.Errored)
        {
            sb.AppendBlock("> [!WARNING]\n> Terraform reported errors while planning (`errored: true`): this plan is incomplete and should not be applied.");
        }
    }

    private static void AddAddressSection(List<Section> sections, PlanDocument plan, PlanAction action, string heading, string noun, int priority, int order)
    {
        var changes = Filter(plan.ResourceChanges, c => c.Action == action);
        if (changes.Count > 0)
        {
            sections.Add(new Section($"{heading} ({Count(changes.Count)})", noun + " address", noun + " addresses", priority, order,
                Lines(changes, c => $"- {Markdown.Code(c.Address)}")));
        }
    }

    private static void AddDriftSection(PlanDocument plan, List<Section> sections)
    {
        var drift = plan.ResourceDrift.Where(d => d.Action != PlanAction.NoOp).ToList();
        if (drift.Count > 0)
        {
            sections.Add(new Section(
                $"#### Drift: changed outside Terraform ({Count(drift.Count)})\n\nThese objects changed outside Terraform since the last apply (not by this pull request); the plan above already takes that into account.",
                "drifted object", "drifted objects", 3, 20,
                Lines(drift, d => $"- {Marker(d.Action)} {Markdown.Code(d.Address)}: {DriftWords(d.Action)}")));
        }
    }

    private static void AddCheckSections(PlanDocument plan, List<Section> sections)
    {
        var failing = plan.Checks.Where(c => c.Status is not "pass").ToList();
        if (failing.Count > 0)
        {
            sections.Add(new Section($"#### Checks not passing ({Count(failing.Count)} of {Count(plan.Checks.Count)})", "check", "checks", 4, 10,
                Lines(failing, c => $"- {Markdown.Code(c.Address)}: {Markdown.Code(c.Status)}" +
                    (c.Problems.Count > 0 ? " — " + string.Join("; ", c.Problems.Select(Markdown.Code)) : ""))));
        }

        if (plan.Diagnostics.Count > 0)
        {
            sections.Add(new Section($"#### Diagnostics ({Count(plan.Diagnostics.Count)})", "diagnostic", "diagnostics", 4, 11,
                Lines(plan.Diagnostics, d => $"- **{Markdown.Html(d.Severity)}**: {Markdown.Code(d.Summary)}")));
        }
    }

    private static string DestructiveLine(ResourceChange c)
    {
        var line = new StringBuilder($"- {Marker(c.Action)} {Markdown.Code(c.Address)}: ");
        line.Append(c.Action == PlanAction.Delete ? "**destroy**"
            : c.ReplaceOrder == ReplaceOrder.CreateThenDelete ? "**replace** (create the new one, then destroy the old one)"
            : "**replace** (destroy, then create)");
        var why = new List<string>();
        if (c.ActionReason is { } reason)
        {
            why.Add(Reason(reason));
        }

        var paths = c.ReplacePathsDisplay;
        if (paths.Count > 0)
        {
            why.Add("forced by " + string.Join(", ", paths.Take(10).Select(Markdown.Code)) + (paths.Count > 10 ? $" and {Count(paths.Count - 10)} more" : ""));
        }

        if (why.Count > 0)
        {
            line.Append(" because ").Append(string.Join("; ", why));
        }

        return line.ToString();
    }

    private static string Reason(string reason) => reason switch
    {
        "replace_because_cannot_update" => "it cannot be updated in place",
        "replace_because_tainted" => "it is tainted (a create failed, or it was marked for replacement)",
        "replace_by_request" => "replacement was requested (-replace)",
        "replace_by_triggers" => "a replace_triggered_by reference changed",
        "delete_because_no_resource_config" => "it was removed from the configuration",
        "delete_because_no_module" => "its module was removed from the configuration",
        "delete_because_wrong_repetition" => "count/for_each was added or removed",
        "delete_because_count_index" => "its count index is out of range",
        "delete_because_each_key" => "its for_each key is gone",
        "delete_because_no_move_target" => "its moved-block target does not exist",
        "read_because_config_unknown" => "its configuration is known only during apply",
        "read_because_dependency_pending" => "a dependency has changes pending",
        "read_because_check_nested" => "a check block reads it",
        _ => Markdown.Code(reason),
    };

    private static string DriftWords(PlanAction action) => action switch
    {
        PlanAction.Delete => "deleted outside Terraform",
        PlanAction.Create => "created outside Terraform",
        _ => "changed outside Terraform",
    };

    private static string OutputLine(OutputChange o)
    {
        var name = Markdown.Code(o.Name);
        string Value(JsonElement value, JsonElement sensitive, JsonElement unknown)
        {
            var leaves = AttributeDiff.Flatten(value, sensitive, unknown);
            // A whole-value marker gives a single leaf at the root; anything nested shows as the JSON value with
            // sensitive parts masked.
            if (leaves.Count == 1 && leaves[0].Path.Length == 0)
            {
                return Markdown.Code(AttributeDiff.Display(leaves[0], 200));
            }

            return Markdown.Code(MaskedJson(value, sensitive, unknown, 200));
        }

        return o.Action switch
        {
            PlanAction.Create => $"- + {name} = {Value(o.After, o.AfterSensitive, o.AfterUnknown)}",
            PlanAction.Delete => $"- − {name} (was {Value(o.Before, o.BeforeSensitive, default)})",
            _ => $"- ~ {name}: {Value(o.Before, o.BeforeSensitive, default)} → {Value(o.After, o.AfterSensitive, o.AfterUnknown)}",
        };
    }

    /// <summary>Compact JSON of a value with sensitive parts replaced by "(sensitive)" and unknown ones by "(known after apply)".</summary>
    private static string MaskedJson(JsonElement value, JsonElement sensitive, JsonElement unknown, int max)
    {
        var sb = new StringBuilder();
        void Write(JsonElement v, JsonElement s, JsonElement u)
        {
            if (sb.Length > max) return;
            if (s.ValueKind == JsonValueKind.True) { sb.Append(AttributeDiff.Sensitive); return; }
            if (u.ValueKind == JsonValueKind.True) { sb.Append(AttributeDiff.Unknown); return; }
            switch (v.ValueKind)
            {
                case JsonValueKind.Object:
                    sb.Append('{');
                    var first = true;
                    foreach (var p in v.EnumerateObject())
                    {
                        if (!first) sb.Append(',');
                        first = false;
                        sb.Append(JsonSerializer.Serialize(p.Name, AttributeDiff.DisplayJson)).Append(':');
                        Write(p.Value, Child(s, p.Name), Child(u, p.Name));
                    }

                    if (u.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var p in u.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.True && !v.TryGetProperty(p.Name, out _)))
                        {
                            if (!first) sb.Append(',');
                            first = false;
                            sb.Append(JsonSerializer.Serialize(p.Name, AttributeDiff.DisplayJson)).Append(':').Append(AttributeDiff.Unknown);
                        }
                    }

                    sb.Append('}');
                    break;
                case JsonValueKind.Array:
                    sb.Append('[');
                    var i = 0;
                    foreach (var item in v.EnumerateArray())
                    {
                        if (i > 0) sb.Append(',');
                        Write(item, Child(s, i), Child(u, i));
                        i++;
                    }

                    sb.Append(']');
                    break;
                default:
                    sb.Append(AttributeDiff.Display(v, max));
                    break;
            }
        }

        Write(value, sensitive, unknown);
        return sb.Length > max ? sb.ToString(0, max) + "…" : sb.ToString();
    }

    private static JsonElement Child(JsonElement marker, string name) =>
        marker.ValueKind == JsonValueKind.Object && marker.TryGetProperty(name, out var child) ? child : default;

    private static JsonElement Child(JsonElement marker, int index) =>
        marker.ValueKind == JsonValueKind.Array && index < marker.GetArrayLength() ? marker[index] : default;

    private sealed record Section(string Heading, string Noun, string Nouns, int Priority, int Order, IReadOnlyList<string> Lines, IReadOnlyList<string>? Compact = null)
    {
        public List<string> Shown { get; } = [];
        public bool UseCompact { get; set; }
    }

    /// <summary>
    /// Lines formatted only when read: a 10,000-resource plan shows a few hundred addresses, so the rest are never
    /// built (that keeps rendering close to the cost of parsing).
    /// </summary>
    private static IReadOnlyList<string> Lines<T>(IReadOnlyList<T> items, Func<T, string> format) => new LazyLines<T>(items, format);

    private sealed class LazyLines<T>(IReadOnlyList<T> items, Func<T, string> format) : IReadOnlyList<string>
    {
        public string this[int index] => format(items[index]);
        public int Count => items.Count;
        public IEnumerator<string> GetEnumerator() => items.Select(format).GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Takes lines while they fit; returns whether all of them did.</summary>
    private static bool Take(IReadOnlyList<string> lines, List<string> shown, ref int budget)
    {
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line.Length + 1 > budget)
            {
                return false;
            }

            budget -= line.Length + 1;
            shown.Add(line);
        }

        return true;
    }

    /// <summary>
    /// Places sections within the limit: budget goes to sections by priority (destructive first), each shown in
    /// display order with a plain note for what did not fit.
    /// </summary>
    private static void FillSections(StringBuilder sb, List<Section> sections, string? fullPlanUrl, int limit)
    {
        var footer = fullPlanUrl is null ? null : "Full plan: " + fullPlanUrl;
        var budget = limit - sb.Length - (footer?.Length ?? 0) - 4
                     - sections.Sum(s => s.Heading.Length + 4 + NoteReserve);
        foreach (var section in sections.OrderBy(s => s.Priority).ThenBy(s => s.Order))
        {
            var before = budget;
            if (Take(section.Lines, section.Shown, ref budget) || section.Compact is null)
            {
                continue;
            }

            // Destructive addresses without their reasons still beat a cut list.
            budget = before;
            section.Shown.Clear();
            section.UseCompact = true;
            Take(section.Compact, section.Shown, ref budget);
        }

        foreach (var section in sections.OrderBy(s => s.Order))
        {
            sb.AppendBlock(section.Heading);
            if (section.Shown.Count > 0)
            {
                sb.AppendLinesBlock(section.Shown);
            }

            var missing = section.Lines.Count - section.Shown.Count;
            if (missing > 0 || section.UseCompact)
            {
                var parts = new List<string>();
                if (missing > 0)
                {
                    parts.Add($"… {Count(missing)} {(missing == 1 ? section.Noun : section.Nouns)} not shown");
                }

                if (section.UseCompact)
                {
                    parts.Add("reasons left out");
                }

                sb.AppendBlock($"_{string.Join("; ", parts)}: a check run summary holds at most {Count(Max)} characters._");
            }
        }

        if (footer is not null)
        {
            sb.AppendBlock(footer);
        }
    }

    // ---------------------------------------------------------------- text

    private static string? RenderText(PlanDocument plan, PlanRenderContext ctx, Limits limits)
    {
        var shownCount = 0;
        foreach (var c in plan.ResourceChanges)
        {
            shownCount += InText(c) ? 1 : 0;
        }

        if (shownCount == 0)
        {
            // Output-only or action-only plans: the summary already says everything.
            return null;
        }

        var sb = new StringBuilder();
        sb.AppendBlock($"### Attribute changes in {Markdown.Code(ctx.ProjectPath)}\n\nSensitive values are never shown, only `(sensitive)`.");
        var budget = limits.Output - NoteReserve - (ctx.FullPlanUrl?.Length ?? 0);
        var count = 0;
        foreach (var change in InTextOrder(plan.ResourceChanges))
        {
            var block = ResourceBlock(change, limits.ResourceDiff);
            if (sb.Length + Markdown.BlockCost(sb, block) > budget)
            {
                break;
            }

            sb.AppendBlock(block);
            count++;
        }

        if (count < shownCount)
        {
            var missing = shownCount - count;
            sb.AppendBlock($"_… {Count(missing)} resource {(missing == 1 ? "diff" : "diffs")} not shown: check run text holds at most {Count(Max)} characters. Every address is listed in the summary as far as it fits._");
            if (ctx.FullPlanUrl is not null)
            {
                sb.AppendBlock("Full plan: " + ctx.FullPlanUrl);
            }
        }

        return sb.ToString();
    }

    private static bool InText(ResourceChange c) => c.Action != PlanAction.NoOp || c.IsImport || c.IsMove;

    /// <summary>
    /// The changes with a diff, ordered by <see cref="TextRank"/> and otherwise in plan order (what a stable sort gives),
    /// one pass per rank: no sorted copy of a 10,000-entry list for the few hundred diffs a check run has room for.
    /// </summary>
    private static IEnumerable<ResourceChange> InTextOrder(IReadOnlyList<ResourceChange> changes)
    {
        for (var rank = 1; rank <= 6; rank++)
        {
            foreach (var c in changes)
            {
                if (InText(c) && TextRank(c) == rank)
                {
                    yield return c;
                }
            }
        }
    }

    /// <summary>The matching items as an exact-size array (Where + ToList grows a list by doubling: up to 3× the garbage).</summary>
    private static IReadOnlyList<T> Filter<T>(IReadOnlyList<T> items, Func<T, bool> keep)
    {
        var count = 0;
        foreach (var item in items)
        {
            count += keep(item) ? 1 : 0;
        }

        var kept = new T[count];
        var i = 0;
        foreach (var item in items)
        {
            if (i < count && keep(item))
            {
                kept[i++] = item;
            }
        }

        return kept;
    }

    private static int TextRank(ResourceChange c) => c.Action switch
    {
        // Destroys and replaces together in plan order: when diffs are dropped from the end, these stay longest.
        PlanAction.Delete or PlanAction.Replace => 1,
        PlanAction.Update => 2,
        PlanAction.Create => 3,
        PlanAction.Forget => 4,
        PlanAction.NoOp => 5,
        _ => 6,
    };

    private static string ResourceBlock(ResourceChange c, int maxDiff)
    {
        var label = c.Action switch
        {
            PlanAction.Create => "create",
            PlanAction.Update => "update in place",
            PlanAction.Replace => c.ReplaceOrder == ReplaceOrder.CreateThenDelete ? "replace (create, then destroy)" : "replace (destroy, then create)",
            PlanAction.Delete => "destroy",
            PlanAction.Read => "read",
            PlanAction.Forget => "forget (removed from state, not destroyed)",
            _ => c.IsImport ? "import" : "",
        };
        if (c.IsImport && c.Action != PlanAction.NoOp)
        {
            label += ", import";
        }

        if (c.IsMove)
        {
            label += (label.Length > 0 ? ", " : "") + $"moved from <code>{Markdown.Html(c.PreviousAddress!)}</code>";
        }

        var body = c.Action == PlanAction.Forget
            ? "The object stays in the real infrastructure; Terraform stops managing it."
            : DiffBody(c, maxDiff) is { Length: > 0 } diff ? Markdown.Fence(diff, "diff") : "No attribute changes.";
        return $"<details><summary>{Marker(c.Action)} <code>{Markdown.Html(c.Address)}</code>: {label}</summary>\n\n{body}\n\n</details>";
    }

    private static string DiffBody(ResourceChange c, int maxDiff)
    {
        var sb = new StringBuilder();
        var written = 0;
        bool Full() => sb.Length > maxDiff;
        var total = 0;

        void Emit(Action write)
        {
            total++;
            if (!Full())
            {
                write();
                written++;
            }
        }

        switch (c.Action)
        {
            case PlanAction.Create or PlanAction.Read:
                foreach (var leaf in AttributeDiff.Flatten(c.After, c.AfterSensitive, c.AfterUnknown).Where(l => !l.IsNull))
                {
                    Emit(() => AppendLeaf(sb, '+', leaf));
                }

                break;
            case PlanAction.Delete:
                foreach (var leaf in AttributeDiff.Flatten(c.Before, c.BeforeSensitive, default).Where(l => !l.IsNull))
                {
                    Emit(() => AppendLeaf(sb, '-', leaf));
                }

                break;
            default:
                var forces = c.ReplacePathsDisplay;
                var before = AttributeDiff.Flatten(c.Before, c.BeforeSensitive, default);
                var after = AttributeDiff.Flatten(c.After, c.AfterSensitive, c.AfterUnknown);
                var beforeByPath = new Dictionary<string, AttributeDiff.Leaf>(StringComparer.Ordinal);
                foreach (var leaf in before)
                {
                    beforeByPath[leaf.Path] = leaf;
                }

                var afterPaths = new HashSet<string>(after.Select(l => l.Path), StringComparer.Ordinal);
                var unchanged = 0;
                foreach (var a in after)
                {
                    var suffix = Forces(forces, a.Path) ? "   # forces replacement" : "";
                    if (beforeByPath.TryGetValue(a.Path, out var b) && !b.IsNull)
                    {
                        if (b.SameAs(a))
                        {
                            unchanged++;
                        }
                        else if (a.IsNull)
                        {
                            Emit(() => sb.Append("- ").Append(Name(b.Path)).Append(" = ").Append(AttributeDiff.Display(b)).Append(" → null").Append(suffix).Append('\n'));
                        }
                        else
                        {
                            Emit(() => AppendChange(sb, b, a, suffix));
                        }
                    }
                    else if (!a.IsNull)
                    {
                        Emit(() => AppendLeaf(sb, '+', a, suffix));
                    }
                }

                foreach (var b in before.Where(b => !afterPaths.Contains(b.Path) && !b.IsNull))
                {
                    var suffix = Forces(forces, b.Path) ? "   # forces replacement" : "";
                    Emit(() => sb.Append("- ").Append(Name(b.Path)).Append(" = ").Append(AttributeDiff.Display(b)).Append(" → null").Append(suffix).Append('\n'));
                }

                // Only worth saying next to real changes; with none, the caller says "No attribute changes".
                if (unchanged > 0 && total > 0)
                {
                    sb.Append("  # (").Append(Count(unchanged)).Append(unchanged == 1 ? " unchanged attribute hidden)\n" : " unchanged attributes hidden)\n");
                }

                break;
        }

        if (written < total)
        {
            sb.Append("  # … ").Append(Count(total - written)).Append(" more attribute changes not shown\n");
        }

        return sb.ToString();
    }

    private static void AppendLeaf(StringBuilder sb, char marker, AttributeDiff.Leaf leaf, string suffix = "")
    {
        if (AttributeDiff.AsLines(leaf) is { } lines)
        {
            sb.Append(marker).Append(' ').Append(Name(leaf.Path)).Append(" = <<EOT").Append(suffix).Append('\n');
            AttributeDiff.AppendLines(sb, marker, lines);
            sb.Append(marker).Append(" EOT\n");
            return;
        }

        sb.Append(marker).Append(' ').Append(Name(leaf.Path)).Append(" = ").Append(AttributeDiff.Display(leaf)).Append(suffix).Append('\n');
    }

    private static void AppendChange(StringBuilder sb, AttributeDiff.Leaf before, AttributeDiff.Leaf after, string suffix)
    {
        var beforeLines = AttributeDiff.AsLines(before);
        var afterLines = AttributeDiff.AsLines(after);
        var bothPlainStrings = before.Value.ValueKind == JsonValueKind.String && after.Value.ValueKind == JsonValueKind.String &&
                               !before.IsSensitive && !after.IsSensitive && !after.IsUnknown;
        if (bothPlainStrings && (beforeLines is not null || afterLines is not null))
        {
            sb.Append("~ ").Append(Name(after.Path)).Append(" = <<EOT").Append(suffix).Append('\n');
            AttributeDiff.AppendLineDiff(sb, beforeLines ?? [before.Value.GetString()!], afterLines ?? [after.Value.GetString()!]);
            sb.Append("  EOT\n");
            return;
        }

        var b = AttributeDiff.Display(before);
        var a = AttributeDiff.Display(after);
        if (b.Length + a.Length > 160)
        {
            // Long values read better one above the other, and the diff colouring marks which is which.
            sb.Append("- ").Append(Name(before.Path)).Append(" = ").Append(b).Append(suffix).Append('\n');
            sb.Append("+ ").Append(Name(after.Path)).Append(" = ").Append(a).Append(suffix).Append('\n');
            return;
        }

        // Two sensitive (or otherwise masked) values that differ read the same: say only that it changes.
        sb.Append("~ ").Append(Name(after.Path)).Append(" = ").Append(b == a ? b : $"{b} → {a}").Append(suffix).Append('\n');
    }

    private static bool Forces(IReadOnlyList<string> replacePaths, string path) =>
        replacePaths.Any(p => path == p || path.StartsWith(p + ".", StringComparison.Ordinal) || path.StartsWith(p + "[", StringComparison.Ordinal));

    private static string Name(string path) => path.Length == 0 ? "(whole value)" : path;

    private static string Marker(PlanAction action) => action switch
    {
        PlanAction.Create => "+",
        PlanAction.Update => "~",
        PlanAction.Replace => "±",
        PlanAction.Delete => "−",
        PlanAction.Read => "≤",
        PlanAction.Forget => "⊘",
        _ => "·",
    };

    private static string Count(int n) => AttributeDiff.Count(n);

    // ---------------------------------------------------------------- failures

    /// <summary>A failed init, plan or show: what failed, Terraform's error boxes, the log tail, and what to do next.</summary>
    public static CheckRunOutput RenderFailure(string projectPath, string step, string logTail, string rerunCommand)
    {
        var log = AnsiEscape().Replace(logTail.Replace("\r\n", "\n", StringComparison.Ordinal), "");
        var errors = ExtractErrors(log);

        var summary = new StringBuilder();
        summary.AppendBlock($"**{Markdown.Code("terraform " + step)} failed** in project {Markdown.Code(projectPath)}. Nothing can be approved or applied for it until a plan succeeds.");
        if (errors.Length > 0)
        {
            summary.AppendBlock(Markdown.Fence(Tail(errors, 40_000), "text"));
        }
        else
        {
            summary.AppendBlock("Terraform printed no `Error:` diagnostic; see the end of the log below.");
        }

        summary.AppendBlock($"**What to do:** fix the problem and push a commit, or, if it was transient (network, provider outage, lock), comment {Markdown.Code(rerunCommand)} to run it again.");
        if (projectPath != "." && MentionsMissingFile(errors.Length > 0 ? errors : log))
        {
            summary.AppendBlock("A file or directory is missing. Ensemble checks out only what can change this project's plan: the project " +
                "directory, the local modules it uses, and the files they read by a plain relative path (`file(\"${path.module}/x.json\")`). " +
                "A file read by a computed path must be listed under the project's `extra_paths` in `.ensemble.yml` " +
                "(changes to it then plan the project too).");
        }

        var text = new StringBuilder();
        text.AppendBlock("### End of the log");
        text.AppendBlock(Markdown.Fence(Tail(log, Max - 1_000), "text"));
        return new CheckRunOutput($"terraform {step} failed", summary.ToString(), text.ToString());
    }

    /// <summary>Terraform's words for a file or module directory that is not there (<c>file()</c>, <c>templatefile()</c>, module sources).</summary>
    private static bool MentionsMissingFile(string text) =>
        text.Contains("no file exists at", StringComparison.Ordinal)
        || text.Contains("Unreadable module directory", StringComparison.Ordinal)
        || text.Contains("no such file or directory", StringComparison.Ordinal);

    /// <summary>
    /// The <c>Error:</c> diagnostics: boxed ones (╷ │ ╵, Terraform 0.15+) with the box drawing removed, or, in older
    /// output, each <c>Error:</c> line up to the next blank-line pair.
    /// </summary>
    internal static string ExtractErrors(string log)
    {
        var lines = log.Split('\n');
        var errors = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith('╷'))
            {
                var box = new List<string>();
                for (i++; i < lines.Length && !lines[i].StartsWith('╵'); i++)
                {
                    box.Add(lines[i].StartsWith("│ ", StringComparison.Ordinal) ? lines[i][2..] : lines[i].TrimStart('│'));
                }

                if (box.Any(l => l.StartsWith("Error:", StringComparison.Ordinal)))
                {
                    errors.Add(string.Join('\n', box).TrimEnd());
                }
            }
            else if (lines[i].StartsWith("Error:", StringComparison.Ordinal))
            {
                var block = new List<string> { lines[i] };
                for (i++; i < lines.Length && !lines[i].StartsWith("Error:", StringComparison.Ordinal) && !lines[i].StartsWith('╷'); i++)
                {
                    if (lines[i].Length == 0 && (i + 1 >= lines.Length || lines[i + 1].Length == 0))
                    {
                        break;
                    }

                    block.Add(lines[i]);
                }

                i--;
                errors.Add(string.Join('\n', block).TrimEnd());
            }
        }

        return string.Join("\n\n", errors);
    }

    /// <summary>The end of a text, starting at a line boundary, with a note when the start was dropped.</summary>
    private static string Tail(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }

        var start = text.Length - max + 100;
        var newline = text.IndexOf('\n', start);
        start = newline >= 0 ? newline + 1 : start;
        return $"… ({Count(start)} earlier characters not shown)\n" + text[start..];
    }

    [GeneratedRegex(@"\x1B\[[0-9;?]*[ -/]*[@-~]")]
    private static partial Regex AnsiEscape();
}
