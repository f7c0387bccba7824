using System.Text;
using Ensemble.Jobs.Core;

namespace Ensemble.Tests.Core;

public sealed class WebhookSignatureTests
{
    private const string Secret = "It's a Secret to Everybody";
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("Hello, World!");

    [Fact]
    public void Compute_GitHubsTestVector_Matches()
    {
        // https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
        Assert.Equal("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", WebhookSignature.Compute(Secret, Body));
    }

    [Theory]
    [InlineData("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", true)]
    [InlineData("sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", true)]
    [InlineData("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18", false)]
    [InlineData("sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", false)]
    [InlineData("sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", false)]
    [InlineData("sha256=", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsValid_Header_AcceptsOnlyTheRightSignature(string? header, bool expected)
    {
        Assert.Equal(expected, WebhookSignature.IsValid(Secret, Body, header));
    }

    [Fact]
    public void IsValid_EmptySecret_NeverValid()
    {
        Assert.False(WebhookSignature.IsValid("", Body, WebhookSignature.Compute("", Body)));
    }
}
