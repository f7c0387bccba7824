using Ensemble.Jobs.Artifacts;

namespace Ensemble.Tests.Artifacts;

public class S3ArtifactOptionsTests
{
    [Fact]
    public void ToString_WithSecretKey_DoesNotPrintIt()
    {
        var options = new S3ArtifactOptions("bucket", "http://127.0.0.1:9000", null) { AccessKey = "AKIA-visible", SecretKey = "very-secret-value" };

        Assert.DoesNotContain("very-secret-value", options.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", null, null, null)]
    [InlineData("bucket", "not a url", null, null)]
    [InlineData("bucket", "ftp://127.0.0.1", null, null)]
    [InlineData("bucket", null, "key-without-secret", null)]
    [InlineData("bucket", null, null, "secret-without-key")]
    public void Constructor_InvalidOptions_ThrowsArgumentException(string bucket, string? serviceUrl, string? accessKey, string? secretKey)
    {
        var options = new S3ArtifactOptions(bucket, serviceUrl, null) { AccessKey = accessKey, SecretKey = secretKey };

        Assert.Throws<ArgumentException>(() => new S3ArtifactStore(options));
    }

    [Fact]
    public void CreateClient_ServiceUrl_UsesPathStyleAndOnlyRequiredChecksums()
    {
        using var client = S3ArtifactStore.CreateClient(new S3ArtifactOptions("b", "http://127.0.0.1:9000", null) { AccessKey = "k", SecretKey = "s" });
        var config = (Amazon.S3.AmazonS3Config)client.Config;

        Assert.True(config.ForcePathStyle);
        Assert.Equal(Amazon.Runtime.RequestChecksumCalculation.WHEN_REQUIRED, config.RequestChecksumCalculation);
        Assert.Equal(Amazon.Runtime.ResponseChecksumValidation.WHEN_REQUIRED, config.ResponseChecksumValidation);
        Assert.Equal("us-east-1", config.AuthenticationRegion);
    }
}
