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
    /// <summary>Notes on lines of the PR's files (GitHub takes ≤ 50 per request; the client sends the first 50 and says so).</summary>
    public IReadOnlyList<CheckRunAnnotation> Annotations { get; init; } = [];
}

/// <summary>
/// A note on lines of a repo-relative file, shown in the pull request's diff. <paramref name="Level"/> is
/// <c>failure</c>, <c>warning</c> or <c>notice</c> (<see cref="CheckRunAnnotation.Failure"/> etc.).
/// </summary>
public sealed record CheckRunAnnotation(string Path, int StartLine, int EndLine, string Level, string Title, string Message)
{
    public const string Failure = "failure";
    public const string Warning = "warning";
    public const string Notice = "notice";
    public const int MaxPerRequest = 50;
}
