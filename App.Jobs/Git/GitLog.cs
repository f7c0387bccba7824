using Microsoft.Extensions.Logging;

namespace Ensemble.Jobs.Git;

/// <summary>Log events of the git adapter. Messages carry repositories, refs and SHAs, never tokens.</summary>
internal static partial class GitLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Created git mirror of {Repository} at {MirrorPath}")]
    public static partial void MirrorCreated(ILogger logger, string repository, string mirrorPath);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Fetched {RefCount} refs of {Repository} in {ElapsedMs} ms")]
    public static partial void Fetched(ILogger logger, string repository, int refCount, long elapsedMs);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Fetching commit {Sha} of {Repository} directly: the fetched refs do not contain it")]
    public static partial void FetchingSha(ILogger logger, string repository, string sha);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Fetching commit {Sha} of {Repository} failed: {Error}")]
    public static partial void FetchShaFailed(ILogger logger, string repository, string sha, string error);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Git fetch of {Repository} failed: {Error}")]
    public static partial void FetchFailed(ILogger logger, string repository, string error);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Debug, Message = "Checked out {Sha} of {Repository} into {Destination}")]
    public static partial void CheckedOut(ILogger logger, string repository, string sha, string destination);
}
