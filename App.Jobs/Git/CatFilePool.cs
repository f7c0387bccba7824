using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Ensemble.Jobs.Git;

/// <summary>
/// One long-lived <c>git cat-file --batch</c> of a mirror, lent to one checkout at a time by <see cref="CatFilePool"/>.
/// Its standard error is drained all along (the last few thousand characters are kept for error messages).
/// </summary>
internal sealed class CatFileProcess : IDisposable
{
    private const int StandardErrorChars = 4000;
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private CatFileProcess(Process process)
    {
        _process = process;
        _ = DrainStandardErrorAsync();
    }

    public Stream Input => _process.StandardInput.BaseStream;

    public Stream Output => _process.StandardOutput.BaseStream;

    public long IdleSince { get; set; }

    public bool HasExited => _process.HasExited;

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString().Trim();
            }
        }
    }

    public static CatFileProcess Start(string mirror) =>
        new(GitProcess.Start(new GitCommand(["cat-file", "--batch"]) { GitDirectory = mirror }));

    private async Task DrainStandardErrorAsync()
    {
        var buffer = new char[1024];
        try
        {
            int read;
            while ((read = await _process.StandardError.ReadAsync(buffer, CancellationToken.None).ConfigureAwait(false)) > 0)
            {
                lock (_stderr)
                {
                    _stderr.Append(buffer, 0, read);
                    if (_stderr.Length > StandardErrorChars)
                    {
                        _stderr.Remove(0, _stderr.Length - StandardErrorChars);
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The process was disposed while we read.
        }
    }

    /// <summary>Stops it at once (a checkout was cancelled or failed mid-answer: what it would say next is unknown).</summary>
    public void Kill()
    {
        try
        {
            _process.Kill();
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception)
        {
            // Already gone.
        }
    }

    /// <summary>Ends its input, so git exits; reaped in the background.</summary>
    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Its input pipe is already broken: it has exited.
        }

        _ = _process.WaitForExitAsync(CancellationToken.None).ContinueWith(_ => _process.Dispose(), TaskScheduler.Default);
    }
}

/// <summary>
/// Idle <c>git cat-file --batch</c> processes per mirror, so a plan's checkout does not start one: starting git costs
/// ≈ 7 ms of CPU here (docs/benchmarks.md), more than the checkout. A process is lent to one checkout at a time and
/// returned only after a clean, complete exchange; any doubt (an error, a cancellation, a commit it could not find,
/// which a fetch is about to add) ends it instead. Processes idle longer than <see cref="IdleLifetime"/> end too.
/// cat-file sees objects fetched after it started: git looks for new packs when an object is not where it looked.
/// </summary>
internal sealed class CatFilePool
{
    private readonly ConcurrentDictionary<string, ConcurrentStack<CatFileProcess>> _idle = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ITimer _reaper;

    /// <summary>The process's pool: keyed by mirror path, and its reaper lives as long as the process.</summary>
    public static CatFilePool Shared { get; } = new();

    public CatFilePool(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _reaper = _time.CreateTimer(_ => Reap(), null, IdleLifetime, IdleLifetime);
    }

    public static TimeSpan IdleLifetime { get; } = TimeSpan.FromSeconds(30);

    public CatFileProcess Rent(string mirror)
    {
        if (_idle.TryGetValue(mirror, out var idle))
        {
            while (idle.TryPop(out var process))
            {
                if (!process.HasExited && !Expired(process))
                {
                    return process;
                }

                process.Dispose();
            }
        }

        return CatFileProcess.Start(mirror);
    }

    /// <param name="reusable">The exchange ended cleanly: everything asked was answered and read.</param>
    public void Return(string mirror, CatFileProcess process, bool reusable)
    {
        if (!reusable || process.HasExited)
        {
            process.Kill();
            process.Dispose();
            return;
        }

        process.IdleSince = _time.GetTimestamp();
        _idle.GetOrAdd(mirror, _ => new ConcurrentStack<CatFileProcess>()).Push(process);
    }

    private bool Expired(CatFileProcess process) => _time.GetElapsedTime(process.IdleSince) > IdleLifetime;

    private void Reap()
    {
        foreach (var idle in _idle.Values)
        {
            var keep = new List<CatFileProcess>();
            while (idle.TryPop(out var process))
            {
                if (process.HasExited || Expired(process))
                {
                    process.Dispose();
                }
                else
                {
                    keep.Add(process);
                }
            }

            for (var i = keep.Count - 1; i >= 0; i--)
            {
                idle.Push(keep[i]);
            }
        }
    }
}
