namespace Ensemble.Jobs.Core;

/// <summary>What a check run shows: GitHub limits summary and text to 65,535 characters each.</summary>
public sealed record CheckRunOutput(string Title, string Summary, string? Text = null)
{
    public const int MaxLength = 65_535;
}

public enum CheckStatus { Queued, InProgress, Completed }

/// <summary>Check-run conclusions Ensemble uses. Never <c>neutral</c> while anything is pending: GitHub counts it as passing.</summary>
public enum CheckConclusion { Success, Failure, ActionRequired, Cancelled, Skipped, TimedOut }

/// <summary>A requested-action button (≤ 3 per run; identifier ≤ 20, label ≤ 20, description ≤ 40 characters).</summary>
public sealed record CheckRunAction(string Identifier, string Label, string Description);

/// <summary>Everything Ensemble sets on a check run, used for both create and update.</summary>
public sealed record CheckRunRequest
{
    public required string Name { get; init; }
    public required string HeadSha { get; init; }
    public required CheckStatus Status { get; init; }
    public CheckConclusion? Conclusion { get; init; }
    public CheckRunOutput? Output { get; init; }
    /// <summary>Ensemble's own id for the run (e.g. the project run id), echoed back in webhooks.</summary>
    public string? ExternalId { get; init; }
    public string? DetailsUrl { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public IReadOnlyList<CheckRunAction> Actions { get; init; } = [];
}
