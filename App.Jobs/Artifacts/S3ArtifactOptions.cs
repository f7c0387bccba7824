namespace Ensemble.Jobs.Artifacts;

/// <summary>
/// Where <see cref="S3ArtifactStore"/> keeps artifacts. With no <paramref name="ServiceUrl"/> it talks to AWS
/// (region and credentials from the default AWS chain unless given); with one, to that S3-compatible server.
/// </summary>
public sealed record S3ArtifactOptions(string Bucket, string? ServiceUrl, string? Region)
{
    /// <summary>Explicit access key, for S3-compatible servers where the AWS chain has nothing; set with <see cref="SecretKey"/>.</summary>
    public string? AccessKey { get; init; }

    public string? SecretKey { get; init; }

    /// <summary>Ask S3 to encrypt at rest (SSE-S3, AES256). Default: on for AWS, off for a ServiceUrl (test servers may not support it).</summary>
    public bool? ServerSideEncryption { get; init; }

    internal bool UsesServerSideEncryption => ServerSideEncryption ?? ServiceUrl is null;

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Bucket))
        {
            throw new ArgumentException("S3 artifact store: a bucket name is required (Artifacts:S3:Bucket).");
        }

        if (ServiceUrl is not null
            && (!Uri.TryCreate(ServiceUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            throw new ArgumentException($"S3 artifact store: ServiceUrl '{ServiceUrl}' is not an absolute http(s) URL (Artifacts:S3:ServiceUrl).");
        }

        if (string.IsNullOrEmpty(AccessKey) != string.IsNullOrEmpty(SecretKey))
        {
            throw new ArgumentException("S3 artifact store: give both an access key and a secret key, or neither (to use the AWS credential chain).");
        }
    }

    // The generated ToString would print the secret key into logs.
    public override string ToString() =>
        $"S3ArtifactOptions {{ Bucket = {Bucket}, ServiceUrl = {ServiceUrl ?? "(AWS)"}, Region = {Region ?? "(default)"}, " +
        $"Credentials = {(AccessKey is null ? "AWS chain" : "explicit")}, ServerSideEncryption = {UsesServerSideEncryption} }}";
}
