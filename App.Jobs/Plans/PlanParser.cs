using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Ensemble.Jobs.Plans;

/// <summary>Reads <c>terraform show -json</c> output into a <see cref="PlanDocument"/>; refusals are values.</summary>
internal static class PlanParser
{
    // Terraform values can nest deeper than the default 64 (policies, nested blocks inside modules).
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 512 };

    public static PlanParseResult Parse(ReadOnlyMemory<byte> input)
    {
        var bytes = input.Span;
        if (bytes.Length >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF)))
        {
            return PlanParseResult.Failure(
                "The plan file is UTF-16 (it starts with a UTF-16 byte-order mark, as a PowerShell redirect writes it); write terraform show -json output as UTF-8.");
        }

        // UTF-16 without a BOM shows up as every other byte being zero.
        if (bytes.Length >= 2 && (bytes[0] == 0 || bytes[1] == 0))
        {
            return PlanParseResult.Failure("The plan file is not UTF-8 (it contains NUL bytes, as UTF-16 does); write terraform show -json output as UTF-8.");
        }

        var start = SkipUtf8BomAndWhitespace(bytes);
        if (start == bytes.Length)
        {
            return PlanParseResult.Failure("The plan file is empty: terraform show -json produced no output.");
        }

        if (bytes[start] != (byte)'{')
        {
            return PlanParseResult.Failure(DescribeNonJsonStart(bytes[start..]));
        }

        JsonDocument document;
        try
        {
            // Parsing from memory reads the caller's buffer in place (no copy of the bytes). The document is not
            // disposed: its pooled metadata array is simply collected with the plan, which keeps every JsonElement
            // view in the model valid for as long as the model lives.
            document = JsonDocument.Parse(bytes.StartsWith("\uFEFF"u8) ? input[3..] : input, DocumentOptions);
        }
        catch (JsonException ex)
        {
            return PlanParseResult.Failure(DescribeInvalidJson(input, ex));
        }

        try
        {
            return PlanParseResult.Success(Read(document.RootElement));
        }
        catch (PlanFormatException ex)
        {
            return PlanParseResult.Failure(ex.Message);
        }
    }

    private static int SkipUtf8BomAndWhitespace(ReadOnlySpan<byte> bytes)
    {
        var i = bytes.StartsWith("\uFEFF"u8) ? 3 : 0;
        while (i < bytes.Length && bytes[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            i++;
        }

        return i;
    }

    private static string DescribeNonJsonStart(ReadOnlySpan<byte> rest)
    {
        var firstLine = FirstLine(rest, 60);
        if (rest.StartsWith("[command]"u8) || rest.StartsWith("::"u8))
        {
            return $"The plan file is not JSON: it starts with \"{firstLine}\", which is the output of the hashicorp/setup-terraform wrapper; set terraform_wrapper: false.";
        }

        return $"The plan file is not a JSON object: it starts with \"{firstLine}\"; expected the output of terraform show -json PLANFILE.";
    }

    private static string DescribeInvalidJson(ReadOnlyMemory<byte> input, JsonException ex)
    {
        var line = (ex.LineNumber ?? 0) + 1;
        var end = EndOfFirstValue(input.Span);
        if (end is { } firstEnd)
        {
            var rest = input.Span[firstEnd..];
            var next = SkipUtf8BomAndWhitespace(rest);
            if (next < rest.Length && rest[next] == (byte)'{' && CountTopLevelValues(rest[next..]) >= 1)
            {
                return $"The plan file holds several JSON documents one after another (the next starts on line {line}), as terragrunt run-all show -json writes them; give Ensemble one project's terraform show -json output.";
            }

            return $"The plan file has extra data after the JSON document (line {line}): \"{FirstLine(rest[next..], 40)}\".";
        }

        var reason = ex.Message.Split(". LineNumber", 2)[0];
        return $"The plan file is not valid JSON (line {line}, byte {(ex.BytePositionInLine ?? 0) + 1}): {reason}.";
    }

    /// <summary>Where the first complete JSON value ends, or null if the first value itself is broken.</summary>
    private static int? EndOfFirstValue(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowMultipleValues = true, MaxDepth = 512 });
            if (!reader.Read() || !reader.TrySkip())
            {
                return null;
            }

            return (int)reader.BytesConsumed;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static int CountTopLevelValues(ReadOnlySpan<byte> bytes)
    {
        var count = 0;
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowMultipleValues = true, MaxDepth = 512 });
            while (reader.Read())
            {
                if (!reader.TrySkip())
                {
                    break;
                }

                count++;
            }
        }
        catch (JsonException)
        {
            // Count what parsed cleanly before the damage.
        }

        return count;
    }

    private static string FirstLine(ReadOnlySpan<byte> bytes, int max)
    {
        var newline = bytes.IndexOfAny((byte)'\n', (byte)'\r');
        var line = newline >= 0 ? bytes[..newline] : bytes;
        var text = Encoding.UTF8.GetString(line[..Math.Min(line.Length, max * 4)]);
        return text.Length > max ? text[..max] + "…" : text;
    }

    private static PlanDocument Read(JsonElement root)
    {
        var formatVersion = root.TryGetProperty("format_version", out var fv) && fv.ValueKind == JsonValueKind.String
            ? fv.GetString()!
            : throw new PlanFormatException("The JSON has no format_version: it is not terraform show -json output of a plan.");

        var major = formatVersion.Split('.')[0];
        if (major is not ("0" or "1"))
        {
            throw new PlanFormatException(
                $"Plan JSON format_version {formatVersion} is not supported: Ensemble reads format versions 0.x and 1.x (Terraform 0.12 to 1.x).");
        }

        if (root.TryGetProperty("values", out _) && !root.TryGetProperty("planned_values", out _) &&
            !root.TryGetProperty("resource_changes", out _))
        {
            throw new PlanFormatException("The JSON is Terraform state (terraform show -json without a plan file), not a plan.");
        }

        var repeats = new Repeats();
        return new PlanDocument
        {
            FormatVersion = formatVersion,
            TerraformVersion = OptionalString(root, "terraform_version", Where.Root),
            Errored = root.TryGetProperty("errored", out var errored) && errored.ValueKind == JsonValueKind.True,
            ResourceChanges = ReadArray(root, "resource_changes", (e, path) => ReadResourceChange(e, path, repeats)),
            ResourceDrift = ReadArray(root, "resource_drift", (e, path) => ReadResourceChange(e, path, repeats)),
            OutputChanges = ReadOutputChanges(root),
            DeferredChanges = ReadArray(root, "deferred_changes", (e, path) => new DeferredChange(
                OptionalString(e, "reason", path) ?? "unknown",
                ReadResourceChange(RequiredProperty(e, "resource_change", path), path with { Sub = ".resource_change" }, repeats))),
            Checks = [.. ReadArray(root, "checks", ReadCheck), .. ReadArray(root, "condition_results", ReadConditionResult)],
            Diagnostics = ReadArray(root, "diagnostics", (e, path) => new PlanDiagnostic(
                OptionalString(e, "severity", path) ?? "error",
                OptionalString(e, "summary", path) ?? "",
                OptionalString(e, "detail", path))),
            ActionInvocations = ReadArray(root, "action_invocations", (e, path) => RequiredString(e, "address", path)),
        };
    }

    private static List<T> ReadArray<T>(JsonElement parent, string name, Func<JsonElement, Where, T> read)
    {
        if (!parent.TryGetProperty(name, out var array) || array.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            throw new PlanFormatException($"Plan JSON field {name} should be an array but is {Kind(array)}.");
        }

        var list = new List<T>(array.GetArrayLength());
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            list.Add(read(item, new Where(name, i)));
            i++;
        }

        return list;
    }

    private static ResourceChange ReadResourceChange(JsonElement e, Where path, Repeats repeats)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new PlanFormatException($"Plan JSON {path} should be an object but is {Kind(e)}.");
        }

        var address = RequiredString(e, "address", path);
        var change = RequiredProperty(e, "change", path);
        var actions = ReadActions(change, path with { Address = address, Sub = path.Sub + ".change" });
        var (action, order) = FoldActions(actions, path with { Address = address });
        var mode = OptionalString(e, "mode", path, ref repeats.Mode);

        return new ResourceChange
        {
            Address = address,
            PreviousAddress = OptionalString(e, "previous_address", path),
            ModuleAddress = OptionalString(e, "module_address", path, ref repeats.Module),
            Mode = mode == "data" ? ResourceMode.Data : ResourceMode.Managed,
            Type = OptionalString(e, "type", path, ref repeats.Type) ?? "",
            Name = OptionalString(e, "name", path, ref repeats.Name) ?? "",
            Resource = e,
            ProviderName = OptionalString(e, "provider_name", path, ref repeats.Provider) ?? "",
            Actions = actions,
            Action = action,
            ReplaceOrder = order,
            ActionReason = OptionalString(e, "action_reason", path, ref repeats.Reason),
            Change = change,
        };
    }

    private static List<OutputChange> ReadOutputChanges(JsonElement root)
    {
        if (!root.TryGetProperty("output_changes", out var outputs) || outputs.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (outputs.ValueKind != JsonValueKind.Object)
        {
            throw new PlanFormatException($"Plan JSON field output_changes should be an object but is {Kind(outputs)}.");
        }

        var list = new List<OutputChange>();
        foreach (var output in outputs.EnumerateObject())
        {
            var path = new Where("output_changes." + output.Name, -1);
            if (output.Value.ValueKind != JsonValueKind.Object)
            {
                throw new PlanFormatException($"Plan JSON {path} should be an object but is {Kind(output.Value)}.");
            }

            var actions = ReadActions(output.Value, path);
            list.Add(new OutputChange
            {
                Name = output.Name,
                Actions = actions,
                Action = FoldActions(actions, path).Action,
                Before = Property(output.Value, "before"),
                After = Property(output.Value, "after"),
                BeforeSensitive = Property(output.Value, "before_sensitive"),
                AfterSensitive = Property(output.Value, "after_sensitive"),
                AfterUnknown = Property(output.Value, "after_unknown"),
            });
        }

        return list;
    }

    private static CheckResult ReadCheck(JsonElement e, Where path)
    {
        var address = RequiredProperty(e, "address", path);
        var display = address.ValueKind == JsonValueKind.Object
            ? OptionalString(address, "to_display", path with { Sub = path.Sub + ".address" }) ?? ""
            : address.ToString();
        var kind = address.ValueKind == JsonValueKind.Object ? OptionalString(address, "kind", path with { Sub = path.Sub + ".address" }) ?? "" : "";
        var problems = new List<string>();
        if (e.TryGetProperty("instances", out var instances) && instances.ValueKind == JsonValueKind.Array)
        {
            foreach (var instance in instances.EnumerateArray())
            {
                if (instance.TryGetProperty("problems", out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    problems.AddRange(list.EnumerateArray()
                        .Select(p => p.TryGetProperty("message", out var m) ? m.ToString() : p.ToString()));
                }
            }
        }

        return new CheckResult(display, kind, OptionalString(e, "status", path) ?? "unknown", problems);
    }

    private static CheckResult ReadConditionResult(JsonElement e, Where path)
    {
        var status = Property(e, "unknown").ValueKind == JsonValueKind.True ? "unknown"
            : Property(e, "result").ValueKind == JsonValueKind.True ? "pass" : "fail";
        var message = OptionalString(e, "error_message", path);
        return new CheckResult(
            RequiredString(e, "address", path),
            OptionalString(e, "condition_type", path) ?? "",
            status,
            message is null ? [] : [message]);
    }

    private static IReadOnlyList<string> ReadActions(JsonElement change, Where path)
    {
        var actions = RequiredProperty(change, "actions", path);
        if (actions.ValueKind != JsonValueKind.Array)
        {
            throw new PlanFormatException($"Plan JSON {path}.actions should be an array but is {Kind(actions)}.");
        }

        if (actions.GetArrayLength() == 1 && KnownAction(actions[0]) is { } single)
        {
            return SingleActions[Array.IndexOf(KnownActions, single)];
        }

        var list = new string[actions.GetArrayLength()];
        var i = 0;
        foreach (var a in actions.EnumerateArray())
        {
            list[i++] = a.ValueKind == JsonValueKind.String
                ? KnownAction(a) ?? a.GetString()!
                : throw new PlanFormatException($"Plan JSON {path}.actions should hold strings but holds {Kind(a)}.");
        }

        return list;
    }

    private static readonly string[] KnownActions = ["create", "delete", "update", "no-op", "read", "forget"];

    // Most resources have one action: they share its list (never handed out as a mutable array).
    private static readonly IReadOnlyList<string>[] SingleActions = [.. KnownActions.Select(a => (IReadOnlyList<string>)Array.AsReadOnly(new[] { a }))];

    /// <summary>Shares the few action names instead of allocating one string per resource.</summary>
    private static string? KnownAction(JsonElement action)
    {
        foreach (var known in KnownActions)
        {
            if (action.ValueEquals(known))
            {
                return known;
            }
        }

        return null;
    }

    internal static (PlanAction Action, ReplaceOrder Order) FoldActions(IReadOnlyList<string> actions, Where path) =>
        (actions.Count == 1 ? actions[0] : string.Join(',', actions)) switch
        {
            "no-op" => (PlanAction.NoOp, ReplaceOrder.None),
            "create" => (PlanAction.Create, ReplaceOrder.None),
            "read" => (PlanAction.Read, ReplaceOrder.None),
            "update" => (PlanAction.Update, ReplaceOrder.None),
            "delete" => (PlanAction.Delete, ReplaceOrder.None),
            "forget" => (PlanAction.Forget, ReplaceOrder.None),
            "delete,create" => (PlanAction.Replace, ReplaceOrder.DeleteThenCreate),
            "create,delete" => (PlanAction.Replace, ReplaceOrder.CreateThenDelete),
            // Replacement under lifecycle destroy = false: the old object is only dropped from state, never destroyed.
            "create,forget" => (PlanAction.Create, ReplaceOrder.None),
            var other => throw new PlanFormatException(
                $"Plan JSON {path} has actions [{other}], which Ensemble does not know; it cannot say what apply would do."),
        };

    private static JsonElement Property(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var value) ? value : default;

    private static JsonElement RequiredProperty(JsonElement e, string name, Where path) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var value)
            ? value
            : throw new PlanFormatException($"Plan JSON {path} has no {name}.");

    private static string RequiredString(JsonElement e, string name, Where path) =>
        OptionalString(e, name, path) ?? throw new PlanFormatException($"Plan JSON {path} has no {name}.");

    private static string? OptionalString(JsonElement e, string name, Where path)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new PlanFormatException($"Plan JSON {path}.{name} should be a string but is {Kind(value)}.");
    }

    /// <summary>
    /// Like <see cref="OptionalString(JsonElement, string, Where)"/>, but returns the previous string when the value repeats
    /// it: type, provider, module and name run in long streaks in big plans, and one string per resource adds up.
    /// </summary>
    private static string? OptionalString(JsonElement e, string name, Where path, ref string? last)
    {
        if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            && last is not null && value.ValueEquals(last))
        {
            return last;
        }

        var read = OptionalString(e, name, path);
        last = read ?? last;
        return read;
    }

    /// <summary>The last value of each often-repeated field, per parse (so parsing stays thread-safe).</summary>
    private sealed class Repeats
    {
        public string? Module;
        public string? Type;
        public string? Name;
        public string? Provider;
        public string? Reason;
        public string? Mode;
    }

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLower(CultureInfo.InvariantCulture);

    private sealed class PlanFormatException(string message) : Exception(message);

    /// <summary>Where in the JSON a field sits; formatted only when a message needs it, so parsing builds no path strings.</summary>
    internal readonly record struct Where(string Array, int Index, string? Sub = null, string? Address = null)
    {
        public static readonly Where Root = new("(root)", -1);

        public override string ToString() =>
            (Index >= 0 ? $"{Array}[{Index}]" : Array) + (Address is null ? "" : $" ({Address})") + Sub;
    }
}
