using System.Text.Json;

namespace Ensemble.Jobs.Plans;

/// <summary>What applying a resource change does, folded from Terraform's <c>actions</c> array.</summary>
public enum PlanAction { NoOp, Create, Read, Update, Replace, Delete, Forget }

/// <summary>For <see cref="PlanAction.Replace"/>: which half runs first (<c>create_before_destroy</c> flips it).</summary>
public enum ReplaceOrder { None, DeleteThenCreate, CreateThenDelete }

public enum ResourceMode { Managed, Data }

/// <summary>
/// One entry of <c>resource_changes</c> (or <c>resource_drift</c>). Values are <see cref="JsonElement"/> views into the
/// parsed document: nothing is copied. A missing marker tree is <see cref="JsonValueKind.Undefined"/>.
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
    public JsonElement Index => Property(Resource, "index");
    public string ProviderName { get; init; } = "";
    public PlanAction Action { get; init; }
    public ReplaceOrder ReplaceOrder { get; init; }
    /// <summary>Terraform's own action list, kept verbatim for the fingerprint.</summary>
    public required IReadOnlyList<string> Actions { get; init; }
    /// <summary>e.g. <c>replace_because_cannot_update</c>, <c>delete_because_no_resource_config</c>.</summary>
    public string? ActionReason { get; init; }
    public JsonElement Before => Property(Change, "before");
    public JsonElement After => Property(Change, "after");
    public JsonElement BeforeSensitive => Property(Change, "before_sensitive");
    public JsonElement AfterSensitive => Property(Change, "after_sensitive");
    public JsonElement AfterUnknown => Property(Change, "after_unknown");
    /// <summary>Array of attribute paths (each an array of keys/indices) whose change forces replacement.</summary>
    public JsonElement ReplacePaths => Property(Change, "replace_paths");
    /// <summary>The <c>importing</c> object (id or identity) when this change imports an existing object.</summary>
    public JsonElement Importing => Property(Change, "importing");

    // Two views instead of one per field: a 10,000-resource plan keeps 10,000 of these, and each JsonElement is 16 bytes.
    /// <summary>The resource's object in <c>resource_changes</c>.</summary>
    internal JsonElement Resource { get; init; }

    /// <summary>Its <c>change</c> object.</summary>
    internal JsonElement Change { get; init; }

    private static JsonElement Property(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var value) ? value : default;

    public bool IsImport => Importing.ValueKind == JsonValueKind.Object;
    public bool IsMove => PreviousAddress is not null && PreviousAddress != Address;
    public string? ImportId =>
        IsImport && Importing.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;

    /// <summary>Replace paths in Terraform's own notation, e.g. <c>tags["Name"]</c>, <c>ingress[0].cidr</c>.</summary>
    public IReadOnlyList<string> ReplacePathsDisplay =>
        ReplacePaths.ValueKind == JsonValueKind.Array
            ? [.. ReplacePaths.EnumerateArray().Select(AttributePath.Format)]
            : [];
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

    /// <summary>Parses UTF-8 <c>show -json</c> output. Never throws for bad input: the failure says what is wrong.</summary>
    public static PlanParseResult Parse(ReadOnlyMemory<byte> utf8Json) => PlanParser.Parse(utf8Json);

    public static PlanParseResult Parse(string json) => PlanParser.Parse(System.Text.Encoding.UTF8.GetBytes(json));
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
