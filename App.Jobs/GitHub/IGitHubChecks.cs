using Ensemble.Jobs.Core;

namespace Ensemble.Jobs.GitHub;

/// <summary>The part of GitHub the jobs talk to. Implemented in App over Octokit; nothing past it sees Octokit types.</summary>
public interface IGitHubChecks
{
    /// <summary>Creates a check run directly in the state it starts in and returns its id.</summary>
    Task<long> CreateCheckRunAsync(RepoRef repo, CheckRunRequest request, CancellationToken cancellationToken = default);

    Task UpdateCheckRunAsync(RepoRef repo, long checkRunId, CheckRunRequest request, CancellationToken cancellationToken = default);
}

/// <summary>Installation access tokens (cached until shortly before they expire). Used to fetch git over HTTPS.</summary>
public interface IInstallationTokenSource
{
    Task<string> GetTokenAsync(long installationId, CancellationToken cancellationToken = default);
}
