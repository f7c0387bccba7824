using Ensemble.Jobs.GitHub;
using Octokit;

namespace Ensemble.App.GitHub;

/// <summary>Octokit clients for the App and for its installations, all against <see cref="GitHubOptions.ApiUrl"/>.</summary>
public sealed class GitHubClientFactory(GitHubClientBuilder builder, IInstallationTokenSource tokens)
{
    /// <summary>A client acting for one installation; its token is fetched now (so failures surface here) and refreshed as needed.</summary>
    public async Task<IGitHubClient> ForInstallationAsync(long installationId, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(installationId);
        _ = await tokens.GetTokenAsync(installationId, cancellationToken).ConfigureAwait(false);
        return builder.Create(new InstallationCredentialStore(tokens, installationId));
    }

    /// <summary>A client acting as the App itself (JWT): installations, webhook deliveries.</summary>
    public IGitHubClient ForApp() => builder.ForApp();
}
