using System.Security.Cryptography;
using Ensemble.App.GitHub;
using Microsoft.Extensions.Options;

namespace Ensemble.Tests.GitHub;

public class GitHubOptionsTests
{
    private static GitHubOptions Valid() => new()
    {
        AppId = 1234,
        PrivateKey = GitHubDouble.Key.ExportRSAPrivateKeyPem(),
        WebhookSecret = "secret",
    };

    [Fact]
    public void Validate_CompleteOptions_NoErrors()
    {
        Assert.Empty(Valid().Validate());
    }

    [Fact]
    public void Validate_Pkcs8Key_NoErrors()
    {
        var options = Valid();
        options.PrivateKey = GitHubDouble.Key.ExportPkcs8PrivateKeyPem();

        Assert.Empty(options.Validate());
    }

    [Fact]
    public void Validate_KeyFromReadableFile_NoErrors()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ensemble-key-{Guid.NewGuid():N}.pem");
        File.WriteAllText(path, GitHubDouble.Key.ExportRSAPrivateKeyPem());
        try
        {
            var options = Valid();
            options.PrivateKey = null;
            options.PrivateKeyPath = path;

            Assert.Empty(options.Validate());
            using var key = options.LoadPrivateKey();
            Assert.Equal(GitHubDouble.Key.ExportRSAPublicKeyPem(), key.ExportRSAPublicKeyPem());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Validate_MissingWebhookSecret_NamesTheKey()
    {
        var options = Valid();
        options.WebhookSecret = "";

        var error = Assert.Single(options.Validate());
        Assert.Equal("GitHub:WebhookSecret is required: the App refuses unsigned webhooks", error);
    }

    [Fact]
    public void Validate_UnreadableKeyPath_NamesPathAndReason()
    {
        var options = Valid();
        options.PrivateKey = null;
        options.PrivateKeyPath = "/nonexistent/ensemble/app.pem";

        var error = Assert.Single(options.Validate());
        Assert.StartsWith("GitHub:PrivateKeyPath '/nonexistent/ensemble/app.pem' cannot be read: ", error);
        Assert.Contains("nonexistent", error["GitHub:PrivateKeyPath '/nonexistent/ensemble/app.pem' cannot be read: ".Length..]);
    }

    [Fact]
    public void Validate_InvalidPem_SaysNotAValidKey()
    {
        var options = Valid();
        options.PrivateKey = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----";

        Assert.Equal(["GitHub:PrivateKey is not a valid PEM RSA key"], options.Validate());
    }

    [Fact]
    public void Validate_PublicKeyOnly_SaysNotAValidKey()
    {
        var options = Valid();
        options.PrivateKey = GitHubDouble.Key.ExportRSAPublicKeyPem();

        Assert.Equal(["GitHub:PrivateKey is not a valid PEM RSA key"], options.Validate());
    }

    [Fact]
    public void Validate_NoKeyAtAll_AsksForOne()
    {
        var options = Valid();
        options.PrivateKey = null;

        var error = Assert.Single(options.Validate());
        Assert.StartsWith("GitHub:PrivateKey or GitHub:PrivateKeyPath is required", error);
    }

    [Fact]
    public void Validate_Empty_ReportsEveryMissingKey()
    {
        var errors = new GitHubOptions().Validate();

        Assert.Contains(errors, e => e.StartsWith("GitHub:WebhookSecret", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("GitHub:AppId", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("GitHub:PrivateKey", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_RelativeApiUrl_NamesTheKey()
    {
        var options = Valid();
        options.ApiUrl = "api.github.com";

        Assert.Equal(["GitHub:ApiUrl 'api.github.com' is not an absolute http(s) URL"], options.Validate());
    }

    [Fact]
    public void ApiBaseUri_WithoutTrailingSlash_KeepsTheLastSegment()
    {
        var options = new GitHubOptions { ApiUrl = "https://ghe.example.com/api/v3" };

        Assert.Equal("https://ghe.example.com/api/v3/repos/o/r", new Uri(options.ApiBaseUri, "repos/o/r").ToString());
    }

    [Fact]
    public void AddEnsembleGitHub_InvalidConfiguration_OptionsAccessFailsWithAllMessages()
    {
        using var github = new GitHubDouble(settings: new Dictionary<string, string?> { ["GitHub:WebhookSecret"] = "" });

        var error = Assert.Throws<OptionsValidationException>(() => github.Get<IOptions<GitHubOptions>>().Value);
        Assert.Contains("GitHub:WebhookSecret is required: the App refuses unsigned webhooks", error.Failures);
    }
}
