namespace Ensemble.Jobs.Artifacts;

/// <summary>
/// Where plan files, their JSON and logs live. Keys are '/'-separated paths built by <see cref="ArtifactKeys"/>.
/// Artifacts hold secrets in clear (terraform writes sensitive values into plan files): treat the store as secret.
/// </summary>
public interface IArtifactStore
{
    /// <summary>Stores the bytes under the key, replacing what was there. Returns the SHA-256 (lower-case hex) of what was stored.</summary>
    Task<string> PutAsync(string key, Stream content, CancellationToken cancellationToken = default);

    /// <summary>Opens the artifact for reading, or returns null when there is none under that key.</summary>
    Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken = default);

    Task DeleteAsync(string key, CancellationToken cancellationToken = default);
}
