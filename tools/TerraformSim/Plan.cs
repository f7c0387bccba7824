using System.Text.Json.Nodes;

namespace Ensemble.TerraformSim;

public static class Actions
{
    public const string Create = "create";
    public const string Update = "update";
    public const string Delete = "delete";
    public const string NoOp = "no-op";
}

/// <summary>Where a resource is declared, kept in the plan so apply-time errors can point at it.</summary>
public sealed record Location(string File, int Line, string? SourceLine);

public sealed record ResourceChange(
    string ModulePath,
    string Type,
    string Name,
    IReadOnlyList<string> Actions,
    JsonObject? Before,
    JsonObject? After,
    bool IdUnknown,
    IReadOnlyList<string> ReplacePaths,
    Location? Location)
{
    public string Address => Addresses.Resource(ModulePath, Type, Name);

    public bool IsNoOp => Actions is [TerraformSim.Actions.NoOp];

    public bool IsReplace => Actions.Count == 2;

    public bool IsCreate => Actions is [TerraformSim.Actions.Create];

    public bool IsUpdate => Actions is [TerraformSim.Actions.Update];

    public bool IsDelete => Actions is [TerraformSim.Actions.Delete];

    public bool CreateBeforeDestroy => Actions is [TerraformSim.Actions.Create, TerraformSim.Actions.Delete];
}

public sealed record OutputChange(string Name, IReadOnlyList<string> Actions, JsonNode? Before, JsonNode? After, bool Sensitive)
{
    public bool IsNoOp => Actions is [TerraformSim.Actions.NoOp];
}

/// <summary>Everything a saved plan carries: the changes and the state (lineage + serial) they were planned against.</summary>
public sealed record SimPlan(
    string Lineage,
    long Serial,
    bool StateExisted,
    bool Destroy,
    BackendConfig Backend,
    string Timestamp,
    IReadOnlyDictionary<string, JsonNode?> Variables,
    IReadOnlyList<ResourceChange> ResourceChanges,
    IReadOnlyList<OutputChange> OutputChanges,
    SimState PriorState,
    JsonObject Configuration)
{
    public bool HasResourceChanges => ResourceChanges.Any(c => !c.IsNoOp);

    public bool HasChanges => HasResourceChanges || OutputChanges.Any(o => !o.IsNoOp);

    public int ToAdd => ResourceChanges.Count(c => c.IsCreate || c.IsReplace);

    public int ToChange => ResourceChanges.Count(c => c.IsUpdate);

    public int ToDestroy => ResourceChanges.Count(c => c.IsDelete || c.IsReplace);
}
