using Amazon.S3.Model;
using Ensemble.Jobs.Artifacts;
using Ensemble.Tests.Infrastructure;

namespace Ensemble.Tests.Artifacts;

[Trait("Category", Categories.Integration)]
public sealed class S3ArtifactStoreTests : ArtifactStoreContract, IClassFixture<S3Fixture>, IDisposable
{
    private readonly S3Fixture _s3;
    private readonly S3ArtifactStore _store;

    public S3ArtifactStoreTests(S3Fixture s3)
    {
        _s3 = s3;
        _store = new S3ArtifactStore(OptionsFor(s3.Bucket));
    }

    protected override IArtifactStore Store => _store;

    public void Dispose() => _store.Dispose();

    private S3ArtifactOptions OptionsFor(string bucket) =>
        new(bucket, _s3.ServiceUrl, Region: null) { AccessKey = _s3.AccessKey, SecretKey = _s3.SecretKey };

    [Theory]
    [InlineData(1)]
    [InlineData(3 * 1024 * 1024)]
    public async Task PutAsync_Object_StoredAsPlainBytesWithHashMetadata(int length)
    {
        var input = RandomBytes(length, seed: 11);
        var key = NewKey();

        var returned = await _store.PutAsync(key, new MemoryStream(input));

        // Read with the raw client: chunk framing or trailers stored by mistake would change the length and bytes.
        using var response = await _s3.Client.GetObjectAsync(_s3.Bucket, key);
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy);
        Assert.Equal(input.Length, response.ContentLength);
        Assert.Equal(input, copy.ToArray());
        Assert.Equal(returned, response.Metadata[S3ArtifactStore.Sha256MetadataKey]);
    }

    [Fact]
    public async Task OpenReadAsync_MissingBucket_ThrowsIOExceptionNamingIt()
    {
        using var store = new S3ArtifactStore(OptionsFor("ensemble-no-such-bucket"));

        var error = await Assert.ThrowsAsync<IOException>(() => store.OpenReadAsync("a/plan.json"));

        Assert.Contains("s3://ensemble-no-such-bucket/a/plan.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("NoSuchBucket", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutAsync_ServerUnreachable_ThrowsIOExceptionNamingServer()
    {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        using var store = new S3ArtifactStore(new S3ArtifactOptions("b", "http://127.0.0.1:1", null) { AccessKey = "k", SecretKey = "s" });

        var error = await Assert.ThrowsAsync<IOException>(() => store.PutAsync("a/plan.json", new MemoryStream([1])));

        Assert.Contains("http://127.0.0.1:1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutAsync_ServerSideEncryptionOnForServiceUrl_SendsHeader()
    {
        // s3rver accepts the AES256 header; this proves the option reaches the request without breaking the upload.
        using var store = new S3ArtifactStore(OptionsFor(_s3.Bucket) with { ServerSideEncryption = true });
        var key = NewKey();

        await store.PutAsync(key, new MemoryStream([9, 8, 7]));

        using var response = await _s3.Client.GetObjectAsync(_s3.Bucket, key);
        Assert.Equal(3, response.ContentLength);
    }
}
