using System.Text;
using Ensemble.Jobs.Core;

namespace Ensemble.Tests.FullPlan;

public class SignedLinksTests
{
    private const string Key = "repos/octo-org/infra/pulls/7/6dcb09b5b57875f334f61aebed695e2e4193db5e/envs/prod/plan.json";
    private static readonly byte[] SigningKey = SignedLinks.DeriveKey("It's a Secret to Everybody");
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Verify_FreshToken_GrantsTheArtifactKey()
    {
        var token = SignedLinks.Create(SigningKey, Key, Now.AddDays(30));

        Assert.Equal(new LinkCheck.Valid(Key), SignedLinks.Verify(SigningKey, token, Now.AddDays(29)));
    }

    [Fact]
    public void Create_AnyKey_TokenNeedsNoUrlEscaping()
    {
        var token = SignedLinks.Create(SigningKey, "repos/o/r/pulls/1/" + new string('a', 40) + "/dir%20with%20space/ünï/plan.json", Now);

        Assert.Equal(Uri.EscapeDataString(token), token);
    }

    [Fact]
    public void Verify_AtOrAfterExpiry_Expired()
    {
        var expires = Now.AddDays(30);
        var token = SignedLinks.Create(SigningKey, Key, expires);

        Assert.Equal(new LinkCheck.Expired(expires), SignedLinks.Verify(SigningKey, token, expires));
        Assert.IsType<LinkCheck.Expired>(SignedLinks.Verify(SigningKey, token, expires.AddYears(1)));
    }

    [Fact]
    public void Verify_AnyCharacterChanged_Invalid()
    {
        var token = SignedLinks.Create(SigningKey, Key, Now.AddDays(1));
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

        for (var i = 0; i < token.Length; i++)
        {
            // The next character of the alphabet: also flips the unused low bits of the last character.
            var changed = alphabet[(alphabet.IndexOf(token[i], StringComparison.Ordinal) + 1) % alphabet.Length];
            var tampered = token[..i] + changed + token[(i + 1)..];
            Assert.Same(LinkCheck.Invalid.Instance, SignedLinks.Verify(SigningKey, tampered, Now));
        }
    }

    [Fact]
    public void Verify_ExpiryMovedLaterWithoutTheKey_Invalid()
    {
        var bytes = Convert.FromBase64String(ToBase64(SignedLinks.Create(SigningKey, Key, Now.AddDays(-1))));
        bytes[4]++; // expiry 2^32 seconds later, MAC left as it was

        Assert.Same(LinkCheck.Invalid.Instance, SignedLinks.Verify(SigningKey, FromBase64(bytes), Now));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a token")]
    [InlineData("AQ")]
    [InlineData("plan.json")]
    public void Verify_Garbage_Invalid(string token)
    {
        Assert.Same(LinkCheck.Invalid.Instance, SignedLinks.Verify(SigningKey, token, Now));
    }

    [Fact]
    public void Verify_TokenFromAnotherSecret_Invalid()
    {
        var token = SignedLinks.Create(SignedLinks.DeriveKey("the old webhook secret"), Key, Now.AddDays(1));

        Assert.Same(LinkCheck.Invalid.Instance, SignedLinks.Verify(SigningKey, token, Now));
    }

    [Fact]
    public void DeriveKey_WebhookSecret_DiffersFromTheSecretAndIsStable()
    {
        var secret = "It's a Secret to Everybody";

        Assert.Equal(32, SigningKey.Length);
        Assert.Equal(SigningKey, SignedLinks.DeriveKey(secret));
        Assert.NotEqual(Encoding.UTF8.GetBytes(secret)[..26], SigningKey[..26]);
    }

    private static string ToBase64(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s + new string('=', (4 - s.Length % 4) % 4);
    }

    private static string FromBase64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
