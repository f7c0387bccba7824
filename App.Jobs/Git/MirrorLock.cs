using System.Collections.Concurrent;

namespace Ensemble.Jobs.Git;

/// <summary>
/// Serialises writers of one mirror: a semaphore for callers in this process, then an exclusive lock file next to
/// the mirror for other processes (workers sharing a work directory). Readers take no lock: git's object store and
/// atomic ref updates make reads safe while a fetch runs.
/// </summary>
internal static class MirrorLock
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    public static async Task<IAsyncDisposable> AcquireAsync(string mirrorPath, CancellationToken ct)
    {
        var gate = Gates.GetOrAdd(mirrorPath, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var file = await OpenExclusiveAsync(mirrorPath + ".lock", ct).ConfigureAwait(false);
            return new Held(gate, file);
        }
        catch
        {
            gate.Release();
            throw;
        }
    }

    private static async Task<FileStream> OpenExclusiveAsync(string path, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var delay = TimeSpan.FromMilliseconds(25);
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive OS lock (flock on Unix) that is released if the process dies.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1);
            }
            catch (IOException e) when (e is not (DirectoryNotFoundException or PathTooLongException))
            {
                await Task.Delay(delay, ct).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    private sealed class Held(SemaphoreSlim gate, FileStream file) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await file.DisposeAsync().ConfigureAwait(false);
            gate.Release();
        }
    }
}
