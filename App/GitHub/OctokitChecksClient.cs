using Ensemble.Jobs.Core;
using Ensemble.Jobs.GitHub;
using Microsoft.Extensions.Logging;
using Octokit;
using CheckConclusion = Ensemble.Jobs.Core.CheckConclusion;
using CheckRunAnnotation = Ensemble.Jobs.Core.CheckRunAnnotation;
using CheckRunRequest = Ensemble.Jobs.Core.CheckRunRequest;
using CheckStatus = Ensemble.Jobs.Core.CheckStatus;

namespace Ensemble.App.GitHub;

/// <summary>Check runs over Octokit: maps Ensemble's <see cref="CheckRunRequest"/> and enforces GitHub's limits before sending.</summary>
public sealed partial class OctokitChecksClient(GitHubClientFactory clients, ILogger<OctokitChecksClient> logger) : IGitHubChecks
{
    public const int MaxActions = 3;
    public const int MaxActionIdentifier = 20;
    public const int MaxActionLabel = 20;
    public const int MaxActionDescription = 40;

    public async Task<long> CreateCheckRunAsync(RepoRef repo, CheckRunRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        Validate(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.HeadSha, nameof(request));

        var completed = request.Status == CheckStatus.Completed;
        var newRun = new NewCheckRun(request.Name, request.HeadSha)
        {
            Status = ToOctokit(request.Status),
            Conclusion = completed ? ToOctokit(request.Conclusion!.Value) : null,
            Output = ToOctokit(repo, request),
            ExternalId = request.ExternalId,
            DetailsUrl = request.DetailsUrl,
            StartedAt = request.StartedAt,
            CompletedAt = completed ? request.CompletedAt : null,
            Actions = request.Actions.Count == 0 ? null : ToOctokit(request.Actions),
        };

        var client = await clients.ForInstallationAsync(repo.InstallationId, cancellationToken).ConfigureAwait(false);
        var run = await client.Check.Run.Create(repo.Owner, repo.Name, newRun).WaitAsync(cancellationToken).ConfigureAwait(false);
        return run.Id;
    }

    public async Task UpdateCheckRunAsync(RepoRef repo, long checkRunId, CheckRunRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(checkRunId);
        Validate(request);

        var completed = request.Status == CheckStatus.Completed;
        var update = new CheckRunUpdate
        {
            Name = request.Name,
            Status = ToOctokit(request.Status),
            Conclusion = completed ? ToOctokit(request.Conclusion!.Value) : null,
            Output = ToOctokit(repo, request),
            ExternalId = request.ExternalId,
            DetailsUrl = request.DetailsUrl,
            StartedAt = request.StartedAt,
            CompletedAt = completed ? request.CompletedAt : null,
            // Always sent on update: an empty list is how the Approve button goes away once approved.
            Actions = ToOctokit(request.Actions),
        };

        var client = await clients.ForInstallationAsync(repo.InstallationId, cancellationToken).ConfigureAwait(false);
        await client.Check.Run.Update(repo.Owner, repo.Name, checkRunId, update).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Requests GitHub would reject, or silently reinterpret, are bugs in Ensemble: fail loudly.</summary>
    internal static void Validate(CheckRunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.Name, nameof(request));

        var completed = request.Status == CheckStatus.Completed;
        if (completed && request.Conclusion is null)
        {
            throw new ArgumentException($"Check run '{request.Name}': a completed run needs a conclusion", nameof(request));
        }

        if (!completed && request.Conclusion is not null)
        {
            // GitHub would silently mark the run completed.
            throw new ArgumentException($"Check run '{request.Name}': conclusion {request.Conclusion} given while status is {request.Status}", nameof(request));
        }

        if (!completed && request.CompletedAt is not null)
        {
            throw new ArgumentException($"Check run '{request.Name}': completed_at given while status is {request.Status}", nameof(request));
        }

        if (request.Actions.Count > MaxActions)
        {
            throw new ArgumentException($"Check run '{request.Name}' has {request.Actions.Count} actions; GitHub allows {MaxActions}", nameof(request));
        }

        if (request.Annotations.Count > 0 && request.Output is null)
        {
            throw new ArgumentException($"Check run '{request.Name}': annotations need an output (title and summary)", nameof(request));
        }

        foreach (var annotation in request.Annotations)
        {
            if (string.IsNullOrEmpty(annotation.Path) || annotation.StartLine < 1 || annotation.EndLine < annotation.StartLine
                || string.IsNullOrEmpty(annotation.Message)
                || annotation.Level is not (CheckRunAnnotation.Failure or CheckRunAnnotation.Warning or CheckRunAnnotation.Notice))
            {
                throw new ArgumentException($"Check run '{request.Name}': invalid annotation {annotation}", nameof(request));
            }
        }

        foreach (var action in request.Actions)
        {
            CheckField(request.Name, "identifier", action.Identifier, MaxActionIdentifier);
            CheckField(request.Name, "label", action.Label, MaxActionLabel);
            CheckField(request.Name, "description", action.Description, MaxActionDescription);
        }
    }

    private static void CheckField(string run, string field, string? value, int max)
    {
        if (string.IsNullOrEmpty(value) || value.Length > max)
        {
            throw new ArgumentException(
                $"Check run '{run}': action {field} '{value}' must be 1 to {max} characters (has {value?.Length ?? 0})", "request");
        }
    }

    private NewCheckRunOutput? ToOctokit(RepoRef repo, CheckRunRequest request)
    {
        if (request.Output is not { } output)
        {
            return null;
        }

        var summary = output.Summary;
        var annotations = request.Annotations;
        if (annotations.Count > CheckRunAnnotation.MaxPerRequest)
        {
            // GitHub rejects more than 50 per request; the rest are still in the summary's error list.
            var left = annotations.Count - CheckRunAnnotation.MaxPerRequest;
            summary += $"\n\n_{left:N0} more {(left == 1 ? "annotation" : "annotations")} not shown on the diff: GitHub takes at most {CheckRunAnnotation.MaxPerRequest} per update._";
            annotations = [.. annotations.Take(CheckRunAnnotation.MaxPerRequest)];
        }

        return new NewCheckRunOutput(output.Title, Fit(repo, request.Name, "summary", summary))
        {
            Text = output.Text is null ? null : Fit(repo, request.Name, "text", output.Text),
            Annotations = annotations.Count == 0 ? null : [.. annotations.Select(ToOctokit)],
        };
    }

    internal static NewCheckRunAnnotation ToOctokit(CheckRunAnnotation a) =>
        new(a.Path, a.StartLine, a.EndLine, a.Level switch
        {
            CheckRunAnnotation.Failure => CheckAnnotationLevel.Failure,
            CheckRunAnnotation.Warning => CheckAnnotationLevel.Warning,
            CheckRunAnnotation.Notice => CheckAnnotationLevel.Notice,
            _ => throw new ArgumentOutOfRangeException(nameof(a), a.Level, "annotation level must be failure, warning or notice"),
        }, a.Message)
        {
            Title = a.Title,
        };

    /// <summary>Last resort only: callers summarise long plans themselves. A cut is visible to the reader and logged.</summary>
    private string Fit(RepoRef repo, string run, string field, string value)
    {
        if (value.Length <= CheckRunOutput.MaxLength)
        {
            return value;
        }

        LogTruncated(logger, repo.FullName, run, field, value.Length, CheckRunOutput.MaxLength);
        return Truncate(value, CheckRunOutput.MaxLength);
    }

    internal static string Truncate(string value, int maxLength)
    {
        if (value.Length <= maxLength)
        {
            return value;
        }

        var note = $"\n\n**… cut by Ensemble: GitHub shows at most {maxLength:N0} characters; this was {value.Length:N0}.**";
        var keep = maxLength - note.Length;
        if (char.IsHighSurrogate(value[keep - 1]))
        {
            keep--; // never split a surrogate pair
        }

        return string.Concat(value.AsSpan(0, keep), note);
    }

    private static Octokit.CheckStatus ToOctokit(CheckStatus status) => status switch
    {
        CheckStatus.Queued => Octokit.CheckStatus.Queued,
        CheckStatus.InProgress => Octokit.CheckStatus.InProgress,
        CheckStatus.Completed => Octokit.CheckStatus.Completed,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "unknown check status"),
    };

    private static Octokit.CheckConclusion ToOctokit(CheckConclusion conclusion) => conclusion switch
    {
        CheckConclusion.Success => Octokit.CheckConclusion.Success,
        CheckConclusion.Failure => Octokit.CheckConclusion.Failure,
        CheckConclusion.ActionRequired => Octokit.CheckConclusion.ActionRequired,
        CheckConclusion.Cancelled => Octokit.CheckConclusion.Cancelled,
        CheckConclusion.Skipped => Octokit.CheckConclusion.Skipped,
        CheckConclusion.TimedOut => Octokit.CheckConclusion.TimedOut,
        _ => throw new ArgumentOutOfRangeException(nameof(conclusion), conclusion, "unknown check conclusion"),
    };

    private static List<NewCheckRunAction> ToOctokit(IReadOnlyList<CheckRunAction> actions) =>
        [.. actions.Select(a => new NewCheckRunAction(a.Label, a.Description, a.Identifier))];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Check run {Run} on {Repo}: {Field} of {Length} characters cut to {Max}")]
    private static partial void LogTruncated(ILogger logger, string repo, string run, string field, int length, int max);
}
