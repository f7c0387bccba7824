namespace Ensemble.Jobs.Artifacts;

/// <summary>
/// Artifacts as files under one directory (the embedded setup). Writes are atomic: a reader sees the old
/// artifact or the new one, never half of one, and a crash leaves at most a stray temporary file.
/// </summary>
public sealed class FileArtifactStore : IArtifactStore
{
    private const string TempPrefix = ".incoming-";

    private readonly string _root;

    public FileArtifactStore(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rootDirectory);
        _root = Path.GetFullPath(rootDirectory);
    }

    public string RootDirectory => _root;

    public async Task<string> PutAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var path = PathFor(key);
        var directory = Path.GetDirectoryName(path)!;
        ArtifactFiles.CreatePrivateDirectory(directory);

        // Same directory as the target, so the final move is a rename on one file system (atomic).
        var temp = Path.Combine(directory, $"{TempPrefix}{Guid.NewGuid():N}");
        try
        {
            string sha256;
            await using (var file = ArtifactFiles.CreatePrivateFile(temp))
            {
                sha256 = await ArtifactFiles.CopyHashingAsync(content, file, cancellationToken).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
            return sha256;
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathFor(key);
        try
        {
            // FileShare.Delete lets a concurrent PutAsync replace the file while this reader keeps the old one.
            Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, FileOptions.Asynchronous);
            return Task.FromResult<Stream?>(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathFor(key);
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
            // Nothing was ever stored there: deleting is already done.
        }

        return Task.CompletedTask;
    }

    private string PathFor(string key)
    {
        ArtifactKeys.Validate(key);
        var path = Path.GetFullPath(Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar)));

        // Validate() already refuses "..", absolute keys and backslashes; this is the belt to those braces.
        var rootWithSeparator = Path.EndsInDirectorySeparator(_root) ? _root : _root + Path.DirectorySeparatorChar;
        if (!path.StartsWith(rootWithSeparator, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Invalid artifact key '{key}': it leads outside the artifact directory.", nameof(key));
        }

        if (Path.GetFileName(path).StartsWith(TempPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Invalid artifact key '{key}': names starting with '{TempPrefix}' are reserved.", nameof(key));
        }

        return path;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
