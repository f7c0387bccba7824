using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ensemble.Bench.WebhookLoad;

/// <summary>A server under test in its own process on a loopback port; its output goes to a log file, not to our console.</summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    public Uri BaseUri { get; }
    public string LogPath { get; }

    private ChildProcess(Process process, Uri baseUri, StreamWriter log, string logPath)
    {
        _process = process;
        BaseUri = baseUri;
        _log = log;
        LogPath = logPath;
    }

    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public static async Task<ChildProcess> StartAsync(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string logDirectory)
    {
        var port = FreeLoopbackPort();
        var baseUri = new Uri($"http://127.0.0.1:{port}/");
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
        var child = new ChildProcess(process, baseUri, log, logPath);

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + 60 * Stopwatch.Frequency;
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
        throw new TimeoutException($"{name} did not answer /healthz on {baseUri} within 60 s; see {logPath}");
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
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
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
