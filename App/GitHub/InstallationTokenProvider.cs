using System.Collections.Concurrent;
using Ensemble.Jobs.GitHub;
using Microsoft.Extensions.Logging;

namespace Ensemble.App.GitHub;

/// <summary>
/// Installation access tokens from <c>POST /app/installations/{id}/access_tokens</c>, cached per installation until
/// five minutes before they expire; concurrent callers for one installation share a single request.
/// </summary>
public sealed partial class InstallationTokenProvider(
    GitHubClientBuilder builder, TimeProvider time, ILogger<InstallationTokenProvider> logger) : IInstallationTokenSource
{
    /// <summary>Renew this long before expiry, so a token handed out still has time for a clone or a job step.</summary>
    public static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<long, CachedToken> _cache = new();
    private readonly ConcurrentDictionary<long, Lazy<Task<CachedToken>>> _inFlight = new();

    public async Task<string> GetTokenAsync(long installationId, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(installationId);
        if (TryGetFresh(installationId, out var token))
        {
            return token;
        }

        Lazy<Task<CachedToken>>? mine = null;
        mine = new Lazy<Task<CachedToken>>(() => FetchAsync(installationId, mine!));
        var shared = _inFlight.GetOrAdd(installationId, mine);
        // The fetch is shared, so one caller's cancellation only stops its own wait, not the request.
        var fetched = await shared.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        return fetched.Token;
    }

    /// <summary>Forgets the cached token, e.g. after GitHub answered 401 with it (revoked, or the installation changed).</summary>
    public void Invalidate(long installationId) => _cache.TryRemove(installationId, out _);

    private bool TryGetFresh(long installationId, out string token)
    {
        if (_cache.TryGetValue(installationId, out var cached) && time.GetUtcNow() < cached.ExpiresAt - RefreshMargin)
        {
            token = cached.Token;
            return true;
        }

        token = "";
        return false;
    }

    private async Task<CachedToken> FetchAsync(long installationId, Lazy<Task<CachedToken>> self)
    {
        try
        {
            // Another caller may have finished a fetch between our cache check and joining the in-flight slot.
            if (TryGetFresh(installationId, out _))
            {
                return _cache[installationId];
            }

            var client = builder.ForApp();
            var accessToken = await client.GitHubApps.CreateInstallationToken(installationId).ConfigureAwait(false);
            var cached = new CachedToken(accessToken.Token, accessToken.ExpiresAt);
            _cache[installationId] = cached;
            LogFetched(logger, installationId, cached.ExpiresAt);
            return cached;
        }
        finally
        {
            _inFlight.TryRemove(KeyValuePair.Create(installationId, self));
        }
    }

    /// <summary>The token itself is never logged or shown by <c>ToString</c>.</summary>
    private sealed record CachedToken(string Token, DateTimeOffset ExpiresAt)
    {
        public override string ToString() => $"installation token expiring {ExpiresAt:O}";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Fetched an installation token for installation {InstallationId}, expiring {ExpiresAt}")]
    private static partial void LogFetched(ILogger logger, long installationId, DateTimeOffset expiresAt);
}
