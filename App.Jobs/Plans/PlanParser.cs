using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Ensemble.Jobs.Plans;

/// <summary>
/// Reads <c>terraform show -json</c> output into a <see cref="PlanDocument"/> in one forward pass of a
/// <see cref="Utf8JsonReader"/>; refusals are values. Resource changes keep slices of the input instead of a JsonDocument:
/// the token table of a whole-plan JsonDocument alone is 1.3–1.6× the plan's size.
/// </summary>
internal static class PlanParser
{
    // Terraform values can nest deeper than the default 64 (policies, nested blocks inside modules).
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 512 };

    public static PlanParseResult Parse(ReadOnlySequence<byte> input)
    {
        // The checks of the first bytes need them contiguous; a chunked input's first chunk holds them (64 KiB or more).
        var head = input.First;
        if (!input.IsSingleSegment && SkipUtf8BomAndWhitespace(head.Span) + 256 > head.Length)
        {
            head = input.ToArray();
        }

        var bytes = head.Span;
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

        var json = bytes.StartsWith("\uFEFF"u8) ? input.Slice(3) : input;
        RootFields root;
        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            root = ReadRoot(ref reader, json);
        }
        catch (JsonException ex)
        {
            // Rare: the whole input is made contiguous only to explain what is wrong with it.
            return PlanParseResult.Failure(DescribeInvalidJson(input.IsSingleSegment ? input.First : input.ToArray(), ex));
        }

        try
        {
            return PlanParseResult.Success(root.Build());
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

    /// <summary>
    /// One pass over the root object. Syntax errors throw at once (as a JsonDocument would refuse the file); a field of the
    /// wrong shape is only noted, so <see cref="RootFields.Build"/> reports the same first problem, in the same order, as
    /// reading the finished document field by field did.
    /// </summary>
    private static RootFields ReadRoot(ref Utf8JsonReader reader, ReadOnlySequence<byte> json)
    {
        var root = new RootFields();
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // A repeated field counts once, as its last occurrence (as JsonElement.TryGetProperty reads it).
            if (reader.ValueTextEquals("format_version"u8))
            {
                reader.Read();
                root.FormatVersion = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                reader.Skip();
            }
            else if (reader.ValueTextEquals("terraform_version"u8))
            {
                reader.Read();
                root.TerraformVersion = StringField.Read(ref reader);
            }
            else if (reader.ValueTextEquals("errored"u8))
            {
                reader.Read();
                root.Errored = reader.TokenType == JsonTokenType.True;
                reader.Skip();
            }
            else if (reader.ValueTextEquals("resource_changes"u8))
            {
                reader.Read();
                root.HasResourceChanges = true;
                root.ResourceChanges = ReadChanges(ref reader, json, "resource_changes", root.Repeats);
            }
            else if (reader.ValueTextEquals("resource_drift"u8))
            {
                reader.Read();
                root.ResourceDrift = ReadChanges(ref reader, json, "resource_drift", root.Repeats);
            }
            else if (reader.ValueTextEquals("output_changes"u8))
            {
                root.OutputChanges = Element(ref reader);
            }
            else if (reader.ValueTextEquals("deferred_changes"u8))
            {
                root.DeferredChanges = Element(ref reader);
            }
            else if (reader.ValueTextEquals("checks"u8))
            {
                root.Checks = Element(ref reader);
            }
            else if (reader.ValueTextEquals("condition_results"u8))
            {
                root.ConditionResults = Element(ref reader);
            }
            else if (reader.ValueTextEquals("diagnostics"u8))
            {
                root.Diagnostics = Element(ref reader);
            }
            else if (reader.ValueTextEquals("action_invocations"u8))
            {
                root.ActionInvocations = Element(ref reader);
            }
            else
            {
                // planned_values, prior_state, configuration, variables…: read only to check the JSON, never kept.
                root.HasValues |= reader.ValueTextEquals("values"u8);
                root.HasPlannedValues |= reader.ValueTextEquals("planned_values"u8);
                reader.Read();
                reader.Skip();
            }
        }

        // Anything after the root object is refused here, with the same message and position as JsonDocument gives.
        reader.Read();
        return root;
    }

    /// <summary>A small section (outputs, checks, diagnostics) as its own element, read with the code that reads elements.</summary>
    private static JsonElement Element(ref Utf8JsonReader reader)
    {
        reader.Read();
        return JsonElement.ParseValue(ref reader);
    }

    private static Section<ResourceChange> ReadChanges(ref Utf8JsonReader reader, ReadOnlySequence<byte> json, string name, Repeats repeats)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return new Section<ResourceChange>([], null);
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return new Section<ResourceChange>([], $"Plan JSON field {name} should be an array but is {Kind(reader.TokenType)}.");
        }

        var list = new List<ResourceChange>();
        string? error = null;
        var i = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (error is null)
            {
                // A copy reads the entry; on a shape problem the original skips it whole, still checking its syntax.
                var entry = reader;
                try
                {
                    list.Add(ReadResourceChange(ref entry, json, new Where(name, i), repeats));
                    reader = entry;
                }
                catch (PlanFormatException ex)
                {
                    error = ex.Message;
                    reader.Skip();
                }
            }
            else
            {
                reader.Skip();
            }

            i++;
        }

        return new Section<ResourceChange>(list, error);
    }

    /// <summary>
    /// Reads one resource change, the reader on its first token; leaves the reader on its last. Only names and actions
    /// become objects; values stay in the entry's bytes, found again when asked for (<see cref="ResourceValues"/>).
    /// </summary>
    private static ResourceChange ReadResourceChange(ref Utf8JsonReader reader, ReadOnlySequence<byte> json, Where path, Repeats repeats)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new PlanFormatException($"Plan JSON {path} should be an object but is {Kind(reader.TokenType)}.");
        }

        var start = reader.TokenStartIndex;
        StringField address = default, previous = default, module = default, mode = default, type = default, name = default,
            provider = default, reason = default;
        var change = new ChangeFields();
        var hasChange = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("address"u8))
            {
                reader.Read();
                address = StringField.Read(ref reader);
            }
            else if (reader.ValueTextEquals("previous_address"u8))
            {
                reader.Read();
                previous = StringField.Read(ref reader);
            }
            else if (reader.ValueTextEquals("module_address"u8))
            {
                reader.Read();
                module = StringField.Read(ref reader, ref repeats.Module);
            }
            else if (reader.ValueTextEquals("mode"u8))
            {
                reader.Read();
                mode = StringField.Read(ref reader, ref repeats.Mode);
            }
            else if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                type = StringField.Read(ref reader, ref repeats.Type);
            }
            else if (reader.ValueTextEquals("name"u8))
            {
                reader.Read();
                name = StringField.Read(ref reader, ref repeats.Name);
            }
            else if (reader.ValueTextEquals("provider_name"u8))
            {
                reader.Read();
                provider = StringField.Read(ref reader, ref repeats.Provider);
            }
            else if (reader.ValueTextEquals("action_reason"u8))
            {
                reader.Read();
                reason = StringField.Read(ref reader, ref repeats.Reason);
            }
            else if (reader.ValueTextEquals("change"u8))
            {
                reader.Read();
                hasChange = true;
                change = ReadChange(ref reader, repeats.Actions);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        var length = reader.BytesConsumed - start;

        // The same checks, in the same order, as reading the entry from a JsonDocument: the first problem is reported.
        var addressText = address.Optional(path, "address") ?? throw new PlanFormatException($"Plan JSON {path} has no address.");
        if (!hasChange)
        {
            throw new PlanFormatException($"Plan JSON {path} has no change.");
        }

        var actions = change.Actions(path with { Address = addressText, Sub = path.Sub + ".change" });
        var (action, order) = FoldActions(actions, path with { Address = addressText });
        var modeText = mode.Optional(path, "mode");
        var entry = json.Slice(start, length);
        return new ResourceChange
        {
            Address = addressText,
            PreviousAddress = previous.Optional(path, "previous_address"),
            ModuleAddress = module.Optional(path, "module_address"),
            Mode = modeText == "data" ? ResourceMode.Data : ResourceMode.Managed,
            Type = type.Optional(path, "type") ?? "",
            Name = name.Optional(path, "name") ?? "",
            ProviderName = provider.Optional(path, "provider_name") ?? "",
            Actions = actions,
            Action = action,
            ReplaceOrder = order,
            ActionReason = reason.Optional(path, "action_reason"),
            // An entry split across two chunks of a streamed input gets its own copy; every other one is a slice.
            Json = entry.IsSingleSegment ? entry.First : entry.ToArray(),
            IsImport = change.IsImport,
            ImportId = change.ImportId,
        };
    }

    /// <summary>Reads a <c>change</c> object (or whatever stands in its place), the reader on its first token.</summary>
    private static ChangeFields ReadChange(ref Utf8JsonReader reader, List<string> scratch)
    {
        var change = new ChangeFields { Kind = reader.TokenType };
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return change;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("actions"u8))
            {
                reader.Read();
                change.ReadActions(ref reader, scratch);
            }
            else if (reader.ValueTextEquals("importing"u8))
            {
                reader.Read();
                change.ReadImporting(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return change;
    }

    /// <summary>A resource change held in a small section read as an element (<c>deferred_changes</c>): read from its own bytes.</summary>
    private static ResourceChange ReadResourceChange(JsonElement e, Where path, Repeats repeats)
    {
        var bytes = Encoding.UTF8.GetBytes(e.GetRawText());
        var reader = new Utf8JsonReader(bytes, ReaderOptions);
        reader.Read();
        return ReadResourceChange(ref reader, new ReadOnlySequence<byte>(bytes), path, repeats);
    }

    /// <summary>What the root object held, gathered in one pass; <see cref="Build"/> then checks it in the original order.</summary>
    private sealed class RootFields
    {
        public readonly Repeats Repeats = new();
        public string? FormatVersion;
        public StringField TerraformVersion;
        public bool Errored;
        public bool HasValues;
        public bool HasPlannedValues;
        public bool HasResourceChanges;
        public Section<ResourceChange> ResourceChanges = new([], null);
        public Section<ResourceChange> ResourceDrift = new([], null);
        public JsonElement? OutputChanges;
        public JsonElement? DeferredChanges;
        public JsonElement? Checks;
        public JsonElement? ConditionResults;
        public JsonElement? Diagnostics;
        public JsonElement? ActionInvocations;

        public PlanDocument Build()
        {
            var formatVersion = FormatVersion
                ?? throw new PlanFormatException("The JSON has no format_version: it is not terraform show -json output of a plan.");

            var major = formatVersion.Split('.')[0];
            if (major is not ("0" or "1"))
            {
                throw new PlanFormatException(
                    $"Plan JSON format_version {formatVersion} is not supported: Ensemble reads format versions 0.x and 1.x (Terraform 0.12 to 1.x).");
            }

            if (HasValues && !HasPlannedValues && !HasResourceChanges)
            {
                throw new PlanFormatException("The JSON is Terraform state (terraform show -json without a plan file), not a plan.");
            }

            return new PlanDocument
            {
                FormatVersion = formatVersion,
                TerraformVersion = TerraformVersion.Optional(Where.Root, "terraform_version"),
                Errored = Errored,
                ResourceChanges = ResourceChanges.Items(),
                ResourceDrift = ResourceDrift.Items(),
                OutputChanges = ReadOutputChanges(OutputChanges),
                DeferredChanges = ReadArray(DeferredChanges, "deferred_changes", (e, path) => new DeferredChange(
                    OptionalString(e, "reason", path) ?? "unknown",
                    ReadResourceChange(RequiredProperty(e, "resource_change", path), path with { Sub = ".resource_change" }, Repeats))),
                Checks = [.. ReadArray(Checks, "checks", ReadCheck), .. ReadArray(ConditionResults, "condition_results", ReadConditionResult)],
                Diagnostics = ReadArray(Diagnostics, "diagnostics", (e, path) => new PlanDiagnostic(
                    OptionalString(e, "severity", path) ?? "error",
                    OptionalString(e, "summary", path) ?? "",
                    OptionalString(e, "detail", path))),
                ActionInvocations = ReadArray(ActionInvocations, "action_invocations", (e, path) => RequiredString(e, "address", path)),
            };
        }
    }

    /// <summary>An array read in the pass, with the first shape problem found in it (raised when the plan is built).</summary>
    private sealed record Section<T>(List<T> List, string? Error)
    {
        public List<T> Items() => Error is null ? List : throw new PlanFormatException(Error);
    }

    /// <summary>A string field as found: its token kind (None when absent) and its text when it is a string.</summary>
    private readonly record struct StringField(JsonTokenType Kind, string? Text)
    {
        public static StringField Read(ref Utf8JsonReader reader)
        {
            string? none = null;
            return Read(ref reader, ref none);
        }

        /// <summary>
        /// Returns <paramref name="last"/> itself when the value repeats it: type, provider, module and name run in long streaks
        /// in big plans, and one string per resource adds up.
        /// </summary>
        public static StringField Read(ref Utf8JsonReader reader, ref string? last)
        {
            var kind = reader.TokenType;
            if (kind != JsonTokenType.String)
            {
                reader.Skip();
                return new StringField(kind, null);
            }

            if (last is null || !reader.ValueTextEquals(last))
            {
                last = reader.GetString()!;
            }

            return new StringField(kind, last);
        }

        /// <summary>Null when absent or null; the text when a string; otherwise the same refusal as before.</summary>
        public string? Optional(Where path, string name) => Kind switch
        {
            JsonTokenType.None or JsonTokenType.Null => null,
            JsonTokenType.String => Text,
            _ => throw new PlanFormatException($"Plan JSON {path}.{name} should be a string but is {PlanParser.Kind(Kind)}."),
        };
    }

    /// <summary>What a <c>change</c> object held that every listing needs: its actions as read, and whether it imports.</summary>
    private struct ChangeFields
    {
        public JsonTokenType Kind;
        private JsonTokenType actionsKind;
        private JsonTokenType badActionKind;
        private IReadOnlyList<string>? actions;
        public bool IsImport;
        public string? ImportId;

        public void ReadActions(ref Utf8JsonReader reader, List<string> scratch)
        {
            actionsKind = reader.TokenType;
            badActionKind = JsonTokenType.None;
            actions = null;
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                reader.Skip();
                return;
            }

            scratch.Clear();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType == JsonTokenType.String)
                {
                    scratch.Add(KnownAction(ref reader) ?? reader.GetString()!);
                }
                else
                {
                    if (badActionKind == JsonTokenType.None)
                    {
                        badActionKind = reader.TokenType;
                    }

                    reader.Skip();
                }
            }

            // Most resources have one action: they share its list (never handed out as a mutable array).
            actions = scratch.Count == 1 && Array.IndexOf(KnownActions, scratch[0]) is var known and >= 0
                ? SingleActions[known]
                : scratch.ToArray();
        }

        public void ReadImporting(ref Utf8JsonReader reader)
        {
            IsImport = reader.TokenType == JsonTokenType.StartObject;
            ImportId = null;
            if (IsImport)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isId = reader.ValueTextEquals("id"u8);
                    reader.Read();
                    if (isId)
                    {
                        ImportId = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    }

                    reader.Skip();
                }
            }

            reader.Skip();
        }

        public readonly IReadOnlyList<string> Actions(Where path)
        {
            if (Kind != JsonTokenType.StartObject || actionsKind == JsonTokenType.None)
            {
                throw new PlanFormatException($"Plan JSON {path} has no actions.");
            }

            if (actionsKind != JsonTokenType.StartArray)
            {
                throw new PlanFormatException($"Plan JSON {path}.actions should be an array but is {PlanParser.Kind(actionsKind)}.");
            }

            return badActionKind == JsonTokenType.None
                ? actions!
                : throw new PlanFormatException($"Plan JSON {path}.actions should hold strings but holds {PlanParser.Kind(badActionKind)}.");
        }
    }

    private static string Kind(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        _ => "undefined",
    };

    private static List<T> ReadArray<T>(JsonElement? section, string name, Func<JsonElement, Where, T> read)
    {
        if (section is not { } array || array.ValueKind == JsonValueKind.Null)
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

    private static List<OutputChange> ReadOutputChanges(JsonElement? section)
    {
        if (section is not { } outputs || outputs.ValueKind == JsonValueKind.Null)
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

    private static string? KnownAction(ref Utf8JsonReader reader)
    {
        foreach (var known in KnownActions)
        {
            if (reader.ValueTextEquals(known))
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

    /// <summary>The last value of each often-repeated field, per parse (so parsing stays thread-safe).</summary>
    private sealed class Repeats
    {
        public string? Module;
        public string? Type;
        public string? Name;
        public string? Provider;
        public string? Reason;
        public string? Mode;
        /// <summary>Scratch list for one entry's actions.</summary>
        public readonly List<string> Actions = [];
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
