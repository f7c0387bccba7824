using Ensemble.Jobs.Core;

namespace Ensemble.Tests.Core;

public sealed class SecretMaskerTests
{
    [Fact]
    public void Mask_KnownSecrets_ReplacedEverywhere()
    {
        var masker = new SecretMasker(["ghs_abcdef123456", "hunter2-long-secret"]);

        var masked = masker.Mask("token ghs_abcdef123456 and hunter2-long-secret, again ghs_abcdef123456");

        Assert.Equal("token *** and ***, again ***", masked);
    }

    [Fact]
    public void Mask_MultiLineSecret_EachLineMasked()
    {
        var pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1\nABCDEFGHIJKLMNOP\n-----END RSA PRIVATE KEY-----";
        var masker = new SecretMasker([pem]);

        Assert.DoesNotContain("MIIEowIBAAKCAQEAx1", masker.Mask("oops: MIIEowIBAAKCAQEAx1 leaked"), StringComparison.Ordinal);
    }

    [Fact]
    public void Mask_ShortOrEmptyValues_NotTreatedAsSecrets()
    {
        var masker = new SecretMasker(["", null, "abc"]);

        Assert.Equal("abc is fine", masker.Mask("abc is fine"));
    }

    [Fact]
    public void With_AddsSecretsWithoutForgettingOldOnes()
    {
        var masker = new SecretMasker(["first-secret"]).With(["second-secret"]);

        Assert.Equal("*** ***", masker.Mask("first-secret second-secret"));
    }
}
