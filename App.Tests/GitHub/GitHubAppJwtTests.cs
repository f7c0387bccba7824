using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ensemble.App.GitHub;

namespace Ensemble.Tests.GitHub;

public class GitHubAppJwtTests
{
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Create_ValidKey_SignatureVerifiesWithPublicKey()
    {
        var jwt = GitHubAppJwt.Create(1234, GitHubDouble.Key, Now);

        Assert.True(Verify(jwt, GitHubDouble.Key));
    }

    [Fact]
    public void Create_OtherKey_SignatureDoesNotVerify()
    {
        using var other = RSA.Create(2048);
        var jwt = GitHubAppJwt.Create(1234, other, Now);

        Assert.False(Verify(jwt, GitHubDouble.Key));
    }

    [Fact]
    public void Create_Always_HeaderIsRs256Jwt()
    {
        var (header, _) = Decode(GitHubAppJwt.Create(1234, GitHubDouble.Key, Now));

        Assert.Equal("RS256", header.GetProperty("alg").GetString());
        Assert.Equal("JWT", header.GetProperty("typ").GetString());
    }

    [Fact]
    public void Create_Always_ClaimsBackdateIssueAndExpireWithinTenMinutes()
    {
        var (_, claims) = Decode(GitHubAppJwt.Create(1234, GitHubDouble.Key, Now));

        var iat = claims.GetProperty("iat").GetInt64();
        var exp = claims.GetProperty("exp").GetInt64();
        Assert.Equal(Now.ToUnixTimeSeconds() - 60, iat);
        Assert.Equal(Now.AddMinutes(9).ToUnixTimeSeconds(), exp);
        Assert.True(exp - iat <= 600, "GitHub rejects JWTs living longer than 10 minutes");
        Assert.Equal(JsonValueKind.String, claims.GetProperty("iss").ValueKind);
        Assert.Equal("1234", claims.GetProperty("iss").GetString());
    }

    [Fact]
    public void Create_NonPositiveAppId_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => GitHubAppJwt.Create(0, GitHubDouble.Key, Now));
    }

    internal static bool Verify(string jwt, RSA key)
    {
        var parts = jwt.Split('.');
        Assert.Equal(3, parts.Length);
        return key.VerifyData(
            Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]),
            Base64Url.DecodeFromChars(parts[2]),
            HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1);
    }

    internal static (JsonElement Header, JsonElement Claims) Decode(string jwt)
    {
        var parts = jwt.Split('.');
        return (JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement,
                JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1])).RootElement);
    }
}
