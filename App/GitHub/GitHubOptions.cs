using System.Security.Cryptography;

namespace Ensemble.App.GitHub;

/// <summary>The App's identity and where GitHub is, bound from the configuration section <c>GitHub</c>.</summary>
public sealed class GitHubOptions
{
    public const string SectionName = "GitHub";

    public long AppId { get; set; }

    /// <summary>The App's private key as PEM text (PKCS#1 as GitHub hands it out, or PKCS#8).</summary>
    public string? PrivateKey { get; set; }

    /// <summary>A file holding the PEM key; used when <see cref="PrivateKey"/> is empty.</summary>
    public string? PrivateKeyPath { get; set; }

    public string? WebhookSecret { get; set; }

    /// <summary>REST base URL, used exactly as given (no <c>api/v3</c> is appended).</summary>
    public string ApiUrl { get; set; } = "https://api.github.com/";

    /// <summary>Base for clones: <c>{GitUrl}{owner}/{repo}.git</c>.</summary>
    public string GitUrl { get; set; } = "https://github.com/";

    public GitHubRateLimitOptions RateLimit { get; set; } = new();

    /// <summary>
    /// <see cref="ApiUrl"/> as an absolute URI ending in '/', so relative endpoints resolve under it
    /// (without the slash, <c>https://ghe/api/v3</c> + <c>repos/…</c> would drop <c>v3</c>).
    /// </summary>
    public Uri ApiBaseUri => new(ApiUrl.EndsWith('/') ? ApiUrl : ApiUrl + "/", UriKind.Absolute);

    /// <summary>Every configuration problem, one clear line each; empty when the App can start.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(WebhookSecret))
        {
            errors.Add($"{SectionName}:WebhookSecret is required: the App refuses unsigned webhooks");
        }

        if (AppId <= 0)
        {
            errors.Add($"{SectionName}:AppId is required: the App's numeric id from its settings page");
        }

        if (!IsHttpUrl(ApiUrl))
        {
            errors.Add($"{SectionName}:ApiUrl '{ApiUrl}' is not an absolute http(s) URL");
        }

        if (!Uri.TryCreate(GitUrl, UriKind.Absolute, out _))
        {
            errors.Add($"{SectionName}:GitUrl '{GitUrl}' is not an absolute URL");
        }

        if (string.IsNullOrWhiteSpace(PrivateKey) && string.IsNullOrWhiteSpace(PrivateKeyPath))
        {
            errors.Add($"{SectionName}:PrivateKey or {SectionName}:PrivateKeyPath is required: the App signs its JWT with it");
        }
        else
        {
            var error = TryLoadPrivateKey(out var key);
            key?.Dispose();
            if (error is not null)
            {
                errors.Add(error);
            }
        }

        errors.AddRange(RateLimit.Validate($"{SectionName}:RateLimit"));
        return errors;
    }

    /// <summary>Loads the configured key; throws <see cref="InvalidOperationException"/> with the validation message if it cannot.</summary>
    public RSA LoadPrivateKey()
    {
        var error = TryLoadPrivateKey(out var key);
        return error is null ? key! : throw new InvalidOperationException(error);
    }

    private string? TryLoadPrivateKey(out RSA? key)
    {
        key = null;
        string pem;
        string source;
        if (!string.IsNullOrWhiteSpace(PrivateKey))
        {
            pem = PrivateKey;
            source = $"{SectionName}:PrivateKey";
        }
        else if (!string.IsNullOrWhiteSpace(PrivateKeyPath))
        {
            try
            {
                pem = File.ReadAllText(PrivateKeyPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                return $"{SectionName}:PrivateKeyPath '{PrivateKeyPath}' cannot be read: {e.Message}";
            }

            source = $"{SectionName}:PrivateKeyPath '{PrivateKeyPath}'";
        }
        else
        {
            return $"{SectionName}:PrivateKey or {SectionName}:PrivateKeyPath is required";
        }

        var rsa = RSA.Create();
        try
        {
            // ImportFromPem reads both "BEGIN RSA PRIVATE KEY" (PKCS#1, what GitHub hands out) and "BEGIN PRIVATE KEY" (PKCS#8).
            rsa.ImportFromPem(pem);
            var keySize = rsa.KeySize;
            if (keySize < 2048)
            {
                rsa.Dispose();
                return $"{source} is a {keySize}-bit RSA key; GitHub issues 2048-bit keys";
            }

            // A public key imports fine but cannot sign: catch that here rather than at the first JWT.
            _ = rsa.ExportParameters(includePrivateParameters: true);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            return $"{source} is not a valid PEM RSA key";
        }

        key = rsa;
        return null;
    }

    private static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);
}

/// <summary>How long the REST client waits when GitHub says "slow down", before handing the error back.</summary>
public sealed class GitHubRateLimitOptions
{
    /// <summary>Retries after a rate-limit answer; the response after the last one is returned as is.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>
    /// Longest wait for <c>Retry-After</c> or a primary limit's reset. A longer wait is not done in-process:
    /// the error goes back to the caller, whose job is retried later, instead of holding a worker.
    /// </summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>First wait on a secondary limit without <c>Retry-After</c>; doubles per retry (GitHub: at least a minute).</summary>
    public TimeSpan SecondaryLimitWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Limit for one HTTP attempt; waits between attempts do not count against it.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(100);

    internal IEnumerable<string> Validate(string prefix)
    {
        if (MaxRetries < 0)
        {
            yield return $"{prefix}:MaxRetries must be 0 or more, not {MaxRetries}";
        }

        if (MaxWait < TimeSpan.Zero)
        {
            yield return $"{prefix}:MaxWait must not be negative";
        }

        if (SecondaryLimitWait < TimeSpan.Zero)
        {
            yield return $"{prefix}:SecondaryLimitWait must not be negative";
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            yield return $"{prefix}:RequestTimeout must be positive";
        }
    }
}
