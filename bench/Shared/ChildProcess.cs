using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ensemble.Bench;

/// <summary>
/// A server under test in its own process on a loopback port; its output goes to a log file, not to our console.
/// Shared by the benchmark harnesses (linked into each project from <c>bench/Shared</c>).
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private readonly TimeSpan _stopTimeout;

    public Uri BaseUri { get; }
    public string LogPath { get; }
    public int Pid => _process.Id;

    private ChildProcess(Process process, Uri baseUri, StreamWriter log, string logPath, TimeSpan stopTimeout)
    {
        _process = process;
        BaseUri = baseUri;
        _log = log;
        LogPath = logPath;
        _stopTimeout = stopTimeout;
    }

    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>
    /// Starts <paramref name="fileName"/> with <c>--urls http://127.0.0.1:PORT</c> and waits until <c>/healthz</c>
    /// answers. Output goes to <c>{logDirectory}/{name}.log</c>.
    /// </summary>
    /// <param name="port">The port, when the caller must know it beforehand (to configure the child); a free one otherwise.</param>
    /// <param name="startTimeout">How long the child may take to answer (60 s by default).</param>
    /// <param name="stopTimeout">How long a graceful stop may take before the child is killed (15 s by default).</param>
    public static async Task<ChildProcess> StartAsync(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string logDirectory,
        int? port = null, TimeSpan? startTimeout = null, TimeSpan? stopTimeout = null)
    {
        var wait = startTimeout ?? TimeSpan.FromSeconds(60);
        var baseUri = new Uri($"http://127.0.0.1:{port ?? FreeLoopbackPort()}/");
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(baseUri.ToString().TrimEnd('/'));
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var logPath = Path.Combine(logDirectory, name + ".log");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        // Drained continuously: a full pipe would block the server's logger and distort the measurement.
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var child = new ChildProcess(process, baseUri, log, logPath, stopTimeout ?? TimeSpan.FromSeconds(15));

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with code {process.ExitCode} before answering; see {logPath}");
            }
            try
            {
                using var response = await probe.GetAsync(new Uri(baseUri, "/healthz"));
                if (response.IsSuccessStatusCode)
                {
                    return child;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }
            await Task.Delay(200);
        }
        await child.DisposeAsync();
        throw new TimeoutException($"{name} did not answer /healthz on {baseUri} within {wait.TotalSeconds:0} s; see {logPath}");
    }

    /// <summary>A port free now; the child binds it a moment later (a race we accept on a loopback-only bench).</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM first so the host stops gracefully (Hangfire releases its server entry), then insist.
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }
            using var timeout = new CancellationTokenSource(_stopTimeout);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }
}
