using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Octokit;
using Octokit.Internal;

namespace Ensemble.App.GitHub;

/// <summary>
/// Builds Octokit clients that talk to exactly <see cref="GitHubOptions.ApiUrl"/> over one shared HTTP pipeline
/// (rate-limit aware). Octokit's <c>GitHubClient(ProductHeaderValue, Uri)</c> would append <c>api/v3</c> to any host
/// but github.com, which breaks test doubles and explicit Enterprise URLs, so the connection is built here.
/// </summary>
public sealed class GitHubClientBuilder : IDisposable
{
    public const string UserAgent = "Ensemble";

    private readonly GitHubOptions _options;
    private readonly TimeProvider _time;
    private readonly HttpClientAdapter _http;
    private readonly Lazy<RSA> _privateKey;

    public GitHubClientBuilder(IOptions<GitHubOptions> options, TimeProvider time, ILogger<GitHubClientBuilder> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _time = time;
        BaseUri = _options.ApiBaseUri;
        _privateKey = new Lazy<RSA>(_options.LoadPrivateKey);

        var rateLimit = _options.RateLimit;
        // One handler chain for every client: sockets are pooled, and connections are renewed so DNS changes are seen.
        _http = new HttpClientAdapter(() => new RateLimitHandler(rateLimit, time, logger)
        {
            InnerHandler = new SocketsHttpHandler
            {
                AllowAutoRedirect = false, // Octokit follows redirects itself (and drops the token across hosts).
                AutomaticDecompression = DecompressionMethods.All,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            },
        });
        // RateLimitHandler applies RequestTimeout per attempt; HttpClient's timeout would also count the waits.
        _http.SetRequestTimeout(Timeout.InfiniteTimeSpan);
    }

    /// <summary>The REST base every request goes to.</summary>
    public Uri BaseUri { get; }

    /// <summary>A client authenticated as the App itself: a fresh JWT for every request.</summary>
    public IGitHubClient ForApp() => Create(new AppJwtCredentialStore(_options.AppId, _privateKey.Value, _time));

    public IGitHubClient Create(ICredentialStore credentials) =>
        new GitHubClient(new Connection(new ProductHeaderValue(UserAgent), BaseUri, credentials, _http, new SimpleJsonSerializer()));

    public void Dispose()
    {
        _http.Dispose();
        if (_privateKey.IsValueCreated)
        {
            _privateKey.Value.Dispose();
        }
    }
}

/// <summary>Signs a new App JWT per request: they are cheap, and App-level calls are rare.</summary>
internal sealed class AppJwtCredentialStore(long appId, RSA key, TimeProvider time) : ICredentialStore
{
    public Task<Credentials> GetCredentials()
    {
        string jwt;
        // One key object serves every client; RSA instances are not documented as thread-safe.
        lock (key)
        {
            jwt = GitHubAppJwt.Create(appId, key, time.GetUtcNow());
        }

        return Task.FromResult(new Credentials(jwt, AuthenticationType.Bearer));
    }
}

/// <summary>Asks the token source on every request, so a long-lived client never sends an expired token.</summary>
internal sealed class InstallationCredentialStore(Ensemble.Jobs.GitHub.IInstallationTokenSource tokens, long installationId) : ICredentialStore
{
    public async Task<Credentials> GetCredentials() =>
        new(await tokens.GetTokenAsync(installationId).ConfigureAwait(false), AuthenticationType.Bearer);
}
