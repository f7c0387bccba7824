using System.Net;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Ensemble.Jobs.Artifacts;

/// <summary>Artifacts as objects in one S3 bucket (AWS or an S3-compatible server), shared by every worker.</summary>
public sealed class S3ArtifactStore : IArtifactStore, IDisposable
{
    /// <summary>User metadata that records the SHA-256 of the object's content (<c>x-amz-meta-sha256</c>).</summary>
    public const string Sha256MetadataKey = "sha256";

    private readonly IAmazonS3 _client;
    private readonly bool _ownsClient;
    private readonly S3ArtifactOptions _options;

    public S3ArtifactStore(S3ArtifactOptions options)
        : this(CreateClient(options), options, ownsClient: true)
    {
    }

    /// <summary>Uses a client configured elsewhere; the caller keeps ownership of it.</summary>
    public S3ArtifactStore(IAmazonS3 client, S3ArtifactOptions options)
        : this(client, options, ownsClient: false)
    {
    }

    private S3ArtifactStore(IAmazonS3 client, S3ArtifactOptions options, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _client = client;
        _options = options;
        _ownsClient = ownsClient;
    }

    /// <summary>A client for the options: path-style addressing and only the checksums S3 requires when a ServiceUrl is set.</summary>
    public static AmazonS3Client CreateClient(S3ArtifactOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var config = new AmazonS3Config();
        if (options.ServiceUrl is not null)
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region ?? "us-east-1";
            // S3-compatible servers (s3rver, older MinIO) know neither virtual-host buckets nor the SDK v4 default
            // CRC checksums with aws-chunked trailers: they would store the chunk framing as the object's bytes.
            config.ForcePathStyle = true;
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        }
        else if (options.Region is not null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        return options.AccessKey is not null
            ? new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config)
            : new AmazonS3Client(config);
    }

    public async Task<string> PutAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        ArtifactKeys.Validate(key);
        ArgumentNullException.ThrowIfNull(content);

        // Spool to a private temporary file while hashing: the hash is known before the upload (it goes into the
        // object's metadata), memory stays flat for plans of tens of MB, and the SDK gets a seekable stream it can
        // sign and retry without chunk encoding.
        var spoolPath = Path.Combine(Path.GetTempPath(), $"ensemble-artifact-{Guid.NewGuid():N}.tmp");
        await using var spool = ArtifactFiles.CreatePrivateFile(spoolPath, FileOptions.DeleteOnClose);
        var sha256 = await ArtifactFiles.CopyHashingAsync(content, spool, cancellationToken).ConfigureAwait(false);
        await spool.FlushAsync(cancellationToken).ConfigureAwait(false);
        spool.Position = 0;

        var request = new PutObjectRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            InputStream = spool,
            AutoCloseStream = false,
            UseChunkEncoding = false,
            ContentType = "application/octet-stream",
        };
        request.Metadata[Sha256MetadataKey] = sha256;
        if (_options.UsesServerSideEncryption)
        {
            request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AES256;
        }

        try
        {
            await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsStorageFailure(e))
        {
            throw Failure("store", key, e);
        }

        return sha256;
    }

    public async Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ArtifactKeys.Validate(key);
        try
        {
            // Disposing the response stream releases the HTTP connection; the response object holds nothing else.
            var response = await _client.GetObjectAsync(_options.Bucket, key, cancellationToken).ConfigureAwait(false);
            return response.ResponseStream;
        }
        catch (AmazonS3Exception e) when (IsMissingKey(e))
        {
            return null;
        }
        catch (Exception e) when (IsStorageFailure(e))
        {
            throw Failure("read", key, e);
        }
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ArtifactKeys.Validate(key);
        try
        {
            // S3 answers 204 for a key that is not there, so deleting twice is fine.
            await _client.DeleteObjectAsync(_options.Bucket, key, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsStorageFailure(e))
        {
            throw Failure("delete", key, e);
        }
    }

    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    // A missing bucket is also a 404, but it is a configuration error, not a missing artifact.
    private static bool IsMissingKey(AmazonS3Exception e) =>
        e is NoSuchKeyException
        || e.ErrorCode == "NoSuchKey"
        || (e.StatusCode == HttpStatusCode.NotFound && string.IsNullOrEmpty(e.ErrorCode));

    private static bool IsStorageFailure(Exception e) =>
        e is AmazonServiceException or AmazonClientException or HttpRequestException;

    private IOException Failure(string verb, string key, Exception e)
    {
        var status = e is AmazonServiceException service
            ? $" (HTTP {(int)service.StatusCode}{(string.IsNullOrEmpty(service.ErrorCode) ? "" : " " + service.ErrorCode)})"
            : "";
        var where = _options.ServiceUrl is null ? "" : $" at {_options.ServiceUrl}";
        return new IOException($"Could not {verb} artifact s3://{_options.Bucket}/{key}{where}{status}: {e.Message}", e);
    }
}
