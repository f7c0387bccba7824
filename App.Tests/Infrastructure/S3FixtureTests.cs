using Amazon.S3;
using Amazon.S3.Model;

namespace Ensemble.Tests.Infrastructure;

[Trait("Category", Categories.Integration)]
public sealed class S3FixtureTests(S3Fixture s3) : IClassFixture<S3Fixture>
{
    [Fact]
    public async Task InitializeAsync_Bucket_IsCreatedAndWritable()
    {
        await s3.Client.PutObjectAsync(new PutObjectRequest { BucketName = s3.Bucket, Key = "probe", ContentBody = "x", UseChunkEncoding = false });

        var listed = await s3.Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = s3.Bucket });

        Assert.Equal(["probe"], listed.S3Objects.Select(o => o.Key));
        Assert.StartsWith("http://", s3.ServiceUrl, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisposeAsync_BucketWithObjects_IsRemoved()
    {
        var fixture = new S3Fixture();
        await fixture.InitializeAsync();
        await fixture.Client.PutObjectAsync(new PutObjectRequest { BucketName = fixture.Bucket, Key = "a/b", ContentBody = "x", UseChunkEncoding = false });

        await fixture.DisposeAsync();

        var error = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = fixture.Bucket }));
        Assert.Equal("NoSuchBucket", error.ErrorCode);
    }

    [Fact]
    public void Bucket_TwoFixtures_HaveDifferentBuckets()
    {
        Assert.NotEqual(new S3Fixture().Bucket, s3.Bucket);
    }
}
