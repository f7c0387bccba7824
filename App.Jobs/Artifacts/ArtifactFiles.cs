using System.Buffers;
using System.Security.Cryptography;

namespace Ensemble.Jobs.Artifacts;

/// <summary>Streaming and file helpers the artifact stores share.</summary>
internal static class ArtifactFiles
{
    private const int BufferSize = 81920;

    /// <summary>Owner read/write only: artifacts hold secrets in clear.</summary>
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> and returns the SHA-256 (lower-case hex) of what was copied.</summary>
    public static async Task<string> CopyHashingAsync(Stream source, Stream destination, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Creates a new file that only the current user can read (0600 on Unix).</summary>
    public static FileStream CreatePrivateFile(string path, FileOptions options = FileOptions.None)
    {
        var streamOptions = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            Options = options | FileOptions.Asynchronous,
            BufferSize = BufferSize,
        };
        if (!OperatingSystem.IsWindows())
        {
            streamOptions.UnixCreateMode = PrivateFile;
        }

        return new FileStream(path, streamOptions);
    }

    /// <summary>Creates the directory (and parents) readable by the current user only (0700 on Unix) where it is new.</summary>
    public static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, PrivateDirectory);
        }
    }
}
