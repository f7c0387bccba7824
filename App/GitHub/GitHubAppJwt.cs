using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ensemble.App.GitHub;

/// <summary>The JSON Web Token a GitHub App signs to act as itself (e.g. to get installation tokens).</summary>
public static class GitHubAppJwt
{
    /// <summary>Backdated so a GitHub clock slightly behind ours still accepts the token.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);

    /// <summary>GitHub rejects tokens living longer than 10 minutes; 9 leaves room for clock drift.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(9);

    private static readonly string EncodedHeader = Base64Url.EncodeToString("""{"alg":"RS256","typ":"JWT"}"""u8);

    /// <summary>
    /// RS256 token with iat = now − 60 s, exp = now + 9 min, iss = the App id as a string
    /// (JWT's <c>iss</c> is a StringOrURI; GitHub accepts the id in that form).
    /// </summary>
    public static string Create(long appId, RSA key, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(appId);

        var claims = JsonSerializer.SerializeToUtf8Bytes(new Claims(
            (now - ClockSkew).ToUnixTimeSeconds(),
            (now + Lifetime).ToUnixTimeSeconds(),
            appId.ToString(CultureInfo.InvariantCulture)));

        var signingInput = EncodedHeader + "." + Base64Url.EncodeToString(claims);
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    private sealed record Claims(
        [property: JsonPropertyName("iat")] long IssuedAt,
        [property: JsonPropertyName("exp")] long ExpiresAt,
        [property: JsonPropertyName("iss")] string Issuer);
}
