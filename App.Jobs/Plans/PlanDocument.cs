using System.Buffers;
using System.Text.Json;

namespace Ensemble.Jobs.Plans;

/// <summary>What applying a resource change does, folded from Terraform's <c>actions</c> array.</summary>
public enum PlanAction { NoOp, Create, Read, Update, Replace, Delete, Forget }

/// <summary>For <see cref="PlanAction.Replace"/>: which half runs first (<c>create_before_destroy</c> flips it).</summary>
public enum ReplaceOrder { None, DeleteThenCreate, CreateThenDelete }

public enum ResourceMode { Managed, Data }

/// <summary>
/// One entry of <c>resource_changes</c> (or <c>resource_drift</c>). Only what every listing needs is read while parsing
/// (address, actions, names); the values (before, after, their markers) stay as raw UTF-8 inside the plan's bytes and are
/// parsed when asked for: a 10,000-resource plan then holds its bytes once, not a JsonDocument's token table as well.
/// Each value property parses its value again on every access; a missing value is <see cref="JsonValueKind.Undefined"/>.
/// </summary>
public sealed record ResourceChange
{
    public required string Address { get; init; }
    /// <summary>Set when a <c>moved</c> block (or a refactoring) gives the object a new address.</summary>
    public string? PreviousAddress { get; init; }
    public string? ModuleAddress { get; init; }
    public ResourceMode Mode { get; init; }
    public required string Type { get; init; }
    public required string Name { get; init; }
    /// <summary><c>count</c> index (number) or <c>for_each</c> key (string); Undefined when the resource has neither.</summary>
    public JsonElement Index => Values.Index.Parse(Json);
    public string ProviderName { get; init; } = "";
    public PlanAction Action { get; init; }
    public ReplaceOrder ReplaceOrder { get; init; }
    /// <summary>Terraform's own action list, kept verbatim for the fingerprint.</summary>
    public required IReadOnlyList<string> Actions { get; init; }
    /// <summary>e.g. <c>replace_because_cannot_update</c>, <c>delete_because_no_resource_config</c>.</summary>
    public string? ActionReason { get; init; }
    public JsonElement Before => Values.Before.Parse(Json);
    public JsonElement After => Values.After.Parse(Json);
    public JsonElement BeforeSensitive => Values.BeforeSensitive.Parse(Json);
    public JsonElement AfterSensitive => Values.AfterSensitive.Parse(Json);
    public JsonElement AfterUnknown => Values.AfterUnknown.Parse(Json);
    /// <summary>Array of attribute paths (each an array of keys/indices) whose change forces replacement.</summary>
    public JsonElement ReplacePaths => Values.ReplacePaths.Parse(Json);
    /// <summary>The <c>importing</c> object (id or identity) when this change imports an existing object.</summary>
    public JsonElement Importing => Values.Importing.Parse(Json);

    /// <summary>The resource's object in <c>resource_changes</c>, as UTF-8 (a slice of the plan's bytes where possible).</summary>
    internal ReadOnlyMemory<byte> Json { get; init; }

    /// <summary>
    /// Where each value sits inside <see cref="Json"/>, found by a scan of the entry (a few hundred bytes) when asked: kept
    /// for every resource, the eight ranges would cost a tenth of the plan's size again.
    /// </summary>
    internal ResourceValues Values => ResourceValues.Scan(Json.Span);

    /// <summary>True when <c>importing</c> is an object (read while parsing: every listing asks).</summary>
    public bool IsImport { get; internal init; }
    public bool IsMove => PreviousAddress is not null && PreviousAddress != Address;
    /// <summary>The id an import reads the object by, when <c>importing</c> names one.</summary>
    public string? ImportId { get; internal init; }

    /// <summary>Replace paths in Terraform's own notation, e.g. <c>tags["Name"]</c>, <c>ingress[0].cidr</c>.</summary>
    public IReadOnlyList<string> ReplacePathsDisplay =>
        ReplacePaths is { ValueKind: JsonValueKind.Array } paths
            ? [.. paths.EnumerateArray().Select(AttributePath.Format)]
            : [];
}

/// <summary>A value's place inside a resource's JSON; length 0 when the resource does not have it.</summary>
internal readonly record struct ValueRange(int Start, int Length)
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 512 };

    /// <summary>A fresh, self-contained element (its own copy of the bytes), valid for as long as the caller keeps it.</summary>
    public JsonElement Parse(ReadOnlyMemory<byte> json)
    {
        if (Length == 0)
        {
            return default;
        }

        var reader = new Utf8JsonReader(json.Span.Slice(Start, Length), ReaderOptions);
        reader.Read();
        return JsonElement.ParseValue(ref reader);
    }
}

/// <summary>Where a resource change's values sit inside its JSON (see <see cref="ResourceChange.Json"/>).</summary>
internal readonly record struct ResourceValues(
    ValueRange Index,
    ValueRange Before,
    ValueRange After,
    ValueRange BeforeSensitive,
    ValueRange AfterSensitive,
    ValueRange AfterUnknown,
    ValueRange ReplacePaths,
    ValueRange Importing)
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 512 };

    /// <summary>Reads a resource change's JSON (already checked by the parser); a repeated field counts as its last occurrence.</summary>
    public static ResourceValues Scan(ReadOnlySpan<byte> entry)
    {
        var values = default(ResourceValues);
        var reader = new Utf8JsonReader(entry, ReaderOptions);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("index"u8))
            {
                reader.Read();
                values = values with { Index = Range(ref reader) };
            }
            else if (reader.ValueTextEquals("change"u8))
            {
                reader.Read();
                values = values with { Before = default, After = default, BeforeSensitive = default, AfterSensitive = default,
                    AfterUnknown = default, ReplacePaths = default, Importing = default };
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var slot = Slot(ref reader);
                    reader.Read();
                    if (slot < 0)
                    {
                        reader.Skip();
                        continue;
                    }

                    var range = Range(ref reader);
                    values = slot switch
                    {
                        0 => values with { Before = range },
                        1 => values with { After = range },
                        2 => values with { BeforeSensitive = range },
                        3 => values with { AfterSensitive = range },
                        4 => values with { AfterUnknown = range },
                        5 => values with { ReplacePaths = range },
                        _ => values with { Importing = range },
                    };
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return values;
    }

    private static readonly byte[][] ChangeFields =
        ["before"u8.ToArray(), "after"u8.ToArray(), "before_sensitive"u8.ToArray(), "after_sensitive"u8.ToArray(),
         "after_unknown"u8.ToArray(), "replace_paths"u8.ToArray(), "importing"u8.ToArray()];

    private static int Slot(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < ChangeFields.Length; i++)
        {
            if (reader.ValueTextEquals(ChangeFields[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static ValueRange Range(ref Utf8JsonReader reader)
    {
        var from = (int)reader.TokenStartIndex;
        reader.Skip();
        return new ValueRange(from, (int)reader.BytesConsumed - from);
    }
}

/// <summary>One entry of <c>output_changes</c>.</summary>
public sealed record OutputChange
{
    public required string Name { get; init; }
    public PlanAction Action { get; init; }
    public required IReadOnlyList<string> Actions { get; init; }
    public JsonElement Before { get; init; }
    public JsonElement After { get; init; }
    public JsonElement BeforeSensitive { get; init; }
    public JsonElement AfterSensitive { get; init; }
    public JsonElement AfterUnknown { get; init; }

    public bool IsSensitive => BeforeSensitive.ValueKind == JsonValueKind.True || AfterSensitive.ValueKind == JsonValueKind.True;
}

/// <summary>A change Terraform could not plan yet (<c>deferred_changes</c>, Terraform 1.8+ with deferral enabled).</summary>
public sealed record DeferredChange(string Reason, ResourceChange Change);

/// <summary>A check, precondition or postcondition result (<c>checks</c> from 1.5, <c>condition_results</c> from 1.2–1.4).</summary>
public sealed record CheckResult(string Address, string Kind, string Status, IReadOnlyList<string> Problems);

/// <summary>A diagnostic carried in the plan JSON, if the producer added any.</summary>
public sealed record PlanDiagnostic(string Severity, string Summary, string? Detail);

/// <summary>
/// The parts of <c>terraform show -json PLANFILE</c> that Ensemble uses. Build it with <see cref="Parse(ReadOnlyMemory{byte})"/>.
/// </summary>
public sealed record PlanDocument
{
    public required string FormatVersion { get; init; }
    /// <summary>Absent in some outputs (Terraform's own test fixtures omit it).</summary>
    public string? TerraformVersion { get; init; }
    public bool Errored { get; init; }
    public IReadOnlyList<ResourceChange> ResourceChanges { get; init; } = [];
    public IReadOnlyList<ResourceChange> ResourceDrift { get; init; } = [];
    public IReadOnlyList<OutputChange> OutputChanges { get; init; } = [];
    public IReadOnlyList<DeferredChange> DeferredChanges { get; init; } = [];
    public IReadOnlyList<CheckResult> Checks { get; init; } = [];
    public IReadOnlyList<PlanDiagnostic> Diagnostics { get; init; } = [];
    /// <summary>Addresses of Terraform 1.14 <c>action</c> invocations that apply would run.</summary>
    public IReadOnlyList<string> ActionInvocations { get; init; } = [];

    /// <summary>
    /// True when applying the plan destroys every resource the project manages: it changes at least one managed resource
    /// and every managed change is a delete. That is what <c>plan -destroy</c> produces (the plan JSON has no field naming
    /// the mode), and what a plan whose configuration lost every resource amounts to. Data sources do not count: they are
    /// read, never destroyed.
    /// </summary>
    public bool DestroysEverything
    {
        get
        {
            var managed = 0;
            foreach (var change in ResourceChanges)
            {
                if (change.Mode == ResourceMode.Data)
                {
                    continue;
                }

                if (change.Action != PlanAction.Delete)
                {
                    return false;
                }

                managed++;
            }

            return managed > 0;
        }
    }

    /// <summary>
    /// Parses UTF-8 <c>show -json</c> output. Never throws for bad input: the failure says what is wrong. The plan keeps
    /// <paramref name="utf8Json"/> (not a copy) and reads resource values from it when they are asked for, so the caller
    /// must not change the buffer while the plan is in use.
    /// </summary>
    public static PlanParseResult Parse(ReadOnlyMemory<byte> utf8Json) => PlanParser.Parse(new ReadOnlySequence<byte>(utf8Json));

    /// <summary>
    /// Reads <paramref name="utf8Json"/> to its end and parses it. The cheapest way in for a file or an artifact: the bytes are
    /// held once (one exact-size array when the stream knows its length, else a few large chunks), never also as a
    /// string, a MemoryStream or a JsonDocument. Does not dispose the stream.
    /// </summary>
    public static PlanParseResult Parse(Stream utf8Json) => PlanParser.Parse(PlanInput.Read(utf8Json));

    /// <inheritdoc cref="Parse(Stream)"/>
    public static async Task<PlanParseResult> ParseAsync(Stream utf8Json, CancellationToken cancellationToken = default) =>
        PlanParser.Parse(await PlanInput.ReadAsync(utf8Json, cancellationToken).ConfigureAwait(false));

    public static PlanParseResult Parse(string json) => Parse(System.Text.Encoding.UTF8.GetBytes(json));
}

/// <summary>Either a plan or a one-line reason why the input is not one.</summary>
public sealed record PlanParseResult
{
    private PlanParseResult(PlanDocument? plan, string? error) => (Plan, Error) = (plan, error);

    public PlanDocument? Plan { get; }
    public string? Error { get; }
    public bool IsSuccess => Plan is not null;

    public static PlanParseResult Success(PlanDocument plan) => new(plan, null);
    public static PlanParseResult Failure(string error) => new(null, error);
}
