using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Ensemble.Tests.Infrastructure;

/// <summary>
/// A bucket of its own for a test class (<c>IClassFixture&lt;S3Fixture&gt;</c>) on the S3 server from
/// <c>scripts/test</c>, with a client configured the way S3-compatible servers need. Emptied and removed afterwards.
/// </summary>
public sealed class S3Fixture : IAsyncLifetime
{
    private AmazonS3Client? _client;
    private string? _serviceUrl;

    public string ServiceUrl => _serviceUrl ?? throw NotStarted();

    /// <summary>A bucket name unique to this fixture instance (lower-case, DNS-safe).</summary>
    public string Bucket { get; } = $"ensemble-test-{Guid.NewGuid():N}";

    public IAmazonS3 Client => _client ?? throw NotStarted();

    public string AccessKey => TestServices.S3AccessKey;

    public string SecretKey => TestServices.S3SecretKey;

    public async Task InitializeAsync()
    {
        _serviceUrl = TestServices.S3ServiceUrl;
        _client = new AmazonS3Client(
            new BasicAWSCredentials(AccessKey, SecretKey),
            new AmazonS3Config
            {
                ServiceURL = _serviceUrl,
                AuthenticationRegion = "us-east-1",
                ForcePathStyle = true,
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            });
        await _client.PutBucketAsync(new PutBucketRequest { BucketName = Bucket });
    }

    public async Task DisposeAsync()
    {
        if (_client is null)
        {
            return;
        }

        using var client = _client;
        _client = null;
        try
        {
            ListObjectsV2Response page;
            var request = new ListObjectsV2Request { BucketName = Bucket };
            do
            {
                page = await client.ListObjectsV2Async(request);
                foreach (var item in page.S3Objects ?? [])
                {
                    await client.DeleteObjectAsync(Bucket, item.Key);
                }

                request.ContinuationToken = page.NextContinuationToken;
            }
            while (page.IsTruncated == true);

            await client.DeleteBucketAsync(Bucket);
        }
        catch (AmazonS3Exception)
        {
            // The server is thrown away after the run; a leftover bucket must not fail the tests.
        }
    }

    private static InvalidOperationException NotStarted() =>
        new("S3Fixture is not initialised: use it as IClassFixture<S3Fixture> so xunit calls InitializeAsync.");
}
