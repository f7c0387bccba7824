using System.Security.Cryptography;
using Ensemble.App.GitHub;
using Ensemble.Jobs.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Ensemble.Tests.GitHub;

/// <summary>A WireMock stand-in for GitHub plus Ensemble's GitHub services wired to it through configuration.</summary>
public sealed class GitHubDouble : IDisposable
{
    public const long AppId = 1234;
    public const long InstallationId = 42;
    public static readonly RepoRef Repo = new(InstallationId, "octo-org", "infra");

    /// <summary>One key for the whole run: generating RSA keys is slow.</summary>
    public static readonly RSA Key = RSA.Create(2048);

    private readonly ServiceProvider _services;

    public GitHubDouble(string? apiPath = null, IDictionary<string, string?>? settings = null)
    {
        Server = WireMockServer.Start();
        Time = new FakeTimeProvider(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));
        ApiUrl = Server.Url + (apiPath ?? "/");

        var values = new Dictionary<string, string?>
        {
            ["GitHub:AppId"] = AppId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["GitHub:PrivateKey"] = Key.ExportRSAPrivateKeyPem(),
            ["GitHub:WebhookSecret"] = "It's a Secret to Everybody",
            ["GitHub:ApiUrl"] = ApiUrl,
            ["GitHub:RateLimit:SecondaryLimitWait"] = "00:00:00.200",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        _services = new ServiceCollection()
            .AddLogging()
            .AddSingleton<TimeProvider>(Time)
            .AddEnsembleGitHub(configuration)
            .BuildServiceProvider();
    }

    public WireMockServer Server { get; }

    public FakeTimeProvider Time { get; }

    public string ApiUrl { get; }

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    /// <summary>Answers token requests for <see cref="InstallationId"/> with tokens living one hour from the fake now.</summary>
    public void StubInstallationToken(string token = "ghs_first", TimeSpan? delay = null)
    {
        var response = Response.Create()
            .WithStatusCode(201)
            .WithHeader("Content-Type", "application/json")
            .WithBody(TokenJson(token, Time.GetUtcNow().AddHours(1)));
        if (delay is { } d)
        {
            response = response.WithDelay(d);
        }

        Server.Given(Request.Create().WithPath($"{PathPrefix}/app/installations/{InstallationId}/access_tokens").UsingPost())
            .RespondWith(response);
    }

    public string PathPrefix => new Uri(ApiUrl).AbsolutePath.TrimEnd('/');

    public static string TokenJson(string token, DateTimeOffset expiresAt) =>
        $$"""{"token":"{{token}}","expires_at":"{{expiresAt.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}}","permissions":{"checks":"write"},"repository_selection":"all"}""";

    public IReadOnlyList<WireMock.Logging.ILogEntry> Requests(string method, string pathSuffix) =>
        [.. Server.LogEntries.Where(e => e.RequestMessage.Method == method && e.RequestMessage.AbsolutePath.EndsWith(pathSuffix, StringComparison.Ordinal))];

    public void Dispose()
    {
        _services.Dispose();
        Server.Stop();
        Server.Dispose();
    }
}
